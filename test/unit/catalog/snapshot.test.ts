import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSnapshot, writeSnapshot } from '../../../src/catalog/snapshot.js';
import { BadInputError } from '../../../src/errors.js';
import { catalog, table } from './model-builders.js';

describe('schema snapshots', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cps-snapshot-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const bad = async (name: string, content: string) => {
    const file = join(dir, name);
    await writeFile(file, content);
    return file;
  };

  it('writes indented JSON into a new folder and reads it back unchanged', async () => {
    const c = catalog({ tables: [table('public', 'Odd "T"')] });
    const file = join(dir, 'deep', 'er', 'schema.json');
    await writeSnapshot(file, c);
    expect(readSnapshot(file)).toEqual(c);
    const text = await readFile(file, 'utf8');
    expect(text.startsWith('{\n  "formatVersion": 1,')).toBe(true);
    expect(text.endsWith('}\n')).toBe(true);
  });

  it('refuses a missing file with a BadInputError naming it', async () => {
    const file = join(dir, 'missing.json');
    expect(() => readSnapshot(file)).toThrow(BadInputError);
    expect(() => readSnapshot(file)).toThrow(file);
  });

  it('refuses a file that is not JSON', async () => {
    const file = await bad('text.json', 'not json at all');
    expect(() => readSnapshot(file)).toThrow(/is not valid JSON/);
  });

  it('refuses another format version, saying which one it reads', async () => {
    const file = await bad('v2.json', JSON.stringify({ ...catalog(), formatVersion: 2 }));
    expect(() => readSnapshot(file)).toThrow(/formatVersion is 2, this version of cloudphone-split reads 1/);
  });

  it('lists every structural problem at once', async () => {
    const broken = { ...catalog(), tables: [{ schema: 'public', name: 't', columns: 'x' }], views: null, database: 3 };
    const file = await bad('broken.json', JSON.stringify(broken));
    let error: unknown;
    try {
      readSnapshot(file);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(BadInputError);
    const message = (error as Error).message;
    expect(message).toContain('database: expected a string');
    expect(message).toContain('views: expected an array');
    expect(message).toContain('tables[0].columns: expected an array');
    expect(message).toContain('tables[0].dependsOn: expected an object');
    expect((error as BadInputError).hint).toMatch(/snapshot -o/);
  });

  it('refuses JSON that is not an object', async () => {
    const file = await bad('array.json', '[1, 2]');
    expect(() => readSnapshot(file)).toThrow(/does not hold a JSON object/);
  });
});
