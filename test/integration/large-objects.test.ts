import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, query, servers, uniquePrefix } from '../harness/servers.js';
import { runCli } from './helpers/cli.js';

/** Large objects live outside every table: a split that would leave dangling OIDs is refused at plan time, naming them. */
const prefix = uniquePrefix();
let source: string;
let dir: string;

beforeAll(async () => {
  source = await createDatabase(servers().main, `${prefix}lo`);
  await query(source, `CREATE TABLE files (id int PRIMARY KEY, name text, data oid); CREATE TABLE notes (id int PRIMARY KEY, body text)`);
  await query(source, `INSERT INTO files VALUES (1, 'a', NULL); INSERT INTO notes VALUES (1, 'n')`);
  dir = await mkdtemp(join(tmpdir(), 'cps-lo-'));
});
afterAll(async () => {
  await query(servers().main, `DROP DATABASE IF EXISTS "${prefix}lo" WITH (FORCE)`);
});

async function plan(tables: string[], ignore: string[]): Promise<{ code: number; stdout: string; stderr: string; json: { errors: string[]; warnings: string[] } }> {
  const manifest = join(dir, `split-${tables.join('-')}.yaml`);
  await writeFile(
    manifest,
    [
      'version: 1',
      'name: lo',
      'source:',
      '  url: ${SRC_URL}',
      'services:',
      '  files-service:',
      `    database: ${prefix}files`,
      `    tables: [${tables.join(', ')}]`,
      `ignore: [${ignore.join(', ')}]`,
      '',
    ].join('\n'),
  );
  const r = await runCli(['plan', '-m', manifest, '-o', join(dir, 'plan.json'), '--json'], { SRC_URL: source, PATH: process.env.PATH });
  return { ...r, json: JSON.parse(r.stdout) as { errors: string[]; warnings: string[] } };
}

describe('large objects', () => {
  it('an oid column without any large object in the source plans as usual', async () => {
    const r = await plan(['files', 'notes'], []);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.errors).toEqual([]);
    expect(r.json.warnings.join('\n')).not.toMatch(/large object/);
  });

  it('with large objects in the source, a moved oid column is refused with the list and the fix (exit 1)', async () => {
    await query(source, `UPDATE files SET data = lo_from_bytea(0, '\\x00ff'::bytea) WHERE id = 1`);
    const r = await plan(['files', 'notes'], []);
    expect(r.json.errors, r.stdout.slice(0, 3000)).toHaveLength(1);
    expect(r.code).toBe(1);
    expect(r.json.errors[0]).toContain('the source holds 1 large object');
    expect(r.json.errors[0]).toContain('public.files.data (oid)');
    expect(r.json.errors[0]).toContain('bytea');
  });

  it('large objects that no moved table can reference stay in the source, with a warning', async () => {
    const r = await plan(['notes'], ['files']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.warnings.join('\n')).toContain('the source holds 1 large object; no moved or copied table has an oid or lo column');
  });
});
