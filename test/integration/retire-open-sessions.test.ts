import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { servers } from '../harness/servers.js';
import { keepServices, splitFixture, type SplitFixture } from './helpers/split-fixture.js';

const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

/**
 * `retire: true` makes the source read-only for new sessions only: one opened before kept
 * writing to the tables that stay (Synapse's probe: 498 of 498 inserts), while apply said the
 * source was read-only for everyone.
 */
describe('a source retired while sessions are open on it', () => {
  it('apply names the sessions that may still write, with the statement that ends them', async () => {
    const fx = await splitFixture({ source: servers().main, scale: 0.05, edit: (doc) => keepServices(doc, ['user-service']) });
    fixtures.push(fx);
    const open = new pg.Client({ connectionString: fx.sourceUrl, application_name: 'legacy-worker' });
    await open.connect();
    try {
      const applied = await fx.cli('apply', '--yes');
      expect(applied.code, applied.stderr + applied.stdout).toBe(0);
      const said = applied.stdout + applied.stderr;
      expect(said).toMatch(new RegExp(`${fx.sourceDb} is read-only for every session from now on, but 1 session opened before \\(\\S+ \\(legacy-worker\\)\\) may still write to the tables that stay`));
      expect(said).toContain(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${fx.sourceDb}' AND pid <> pg_backend_pid()`);
      // As said: that session still writes to a table that stays (a new one may not).
      await open.query(`INSERT INTO devices (name, model, android_version) VALUES ('late', 'm', '14')`);
    } finally {
      await open.end();
    }
  });
});
