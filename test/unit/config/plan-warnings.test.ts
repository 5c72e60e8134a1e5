import { describe, expect, it } from 'vitest';
import { configPlanWarnings } from '../../../src/config/plan-warnings.js';

const before = 'database:\n  args:\n    database: synapse\n    host: 10.0.0.5\n    port: 5432\n';
const after = before.replace('database: synapse', 'database: synapse_media');
const entry = { file: 'homeserver.yaml', key: 'database.args.database', value: '{database}' };

describe('configPlanWarnings: a database name alone, for a database on another server', () => {
  it("warns that the file's host and port stay the source's (Synapse's homeserver.yaml keeps them apart)", () => {
    expect(configPlanWarnings([{ service: 'media', entry, before, after, server: 'pg18' }])).toEqual([
      "media: config homeserver.yaml database.args.database: writes the new database's name only, but media's database is on server pg18, not the source's: the host and port the service reads stay the source's, " +
        "where no such database is; repoint them too (an entry for each, with the server's host and port as its value), or use one {url} entry",
    ]);
  });

  it('says nothing on the source\'s server, or for a {url} entry, which writes host and port too', () => {
    expect(configPlanWarnings([{ service: 'media', entry, before, after, server: 'source' }])).toEqual([]);
    expect(configPlanWarnings([{ service: 'media', entry: { ...entry, value: '{url}' }, before, after, server: 'pg18' }])).toEqual([]);
  });
});
