import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { initCommand, parseSchemas } from '../../../src/cli/commands/init.js';
import { makeOutput } from '../../../src/cli/output.js';
import { BadInputError } from '../../../src/errors.js';

const output = () => makeOutput({}, new PassThrough(), new PassThrough(), {});

describe('init arguments', () => {
  it('reads --schema as a comma-separated list, public by default', () => {
    expect(parseSchemas(undefined)).toEqual(['public']);
    expect(parseSchemas(' app, crm ,app,')).toEqual(['app', 'crm']);
    expect(() => parseSchemas(' , ')).toThrow(BadInputError);
  });

  it('refuses an existing manifest before connecting, and a URL that is not postgres://', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'init-unit-'));
    try {
      const file = join(dir, 'split.yaml');
      await writeFile(file, 'x');
      // Port 1 on localhost: connecting would fail with a different error.
      const opts = { from: 'postgres://u:secret@127.0.0.1:1/db', output: file, manifest: 'plans/split.yaml' };
      await expect(initCommand(opts, output())).rejects.toThrow(`${file} already exists`);
      await expect(initCommand({ ...opts, from: 'mysql://u@h/db' }, output())).rejects.toThrow('postgres:// URL');
      await expect(initCommand({ ...opts, from: 'not a url' }, output())).rejects.toThrow('not a connection string');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
