import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, query, servers, uniquePrefix, withDatabase } from '../harness/servers.js';
import { runCli } from './helpers/cli.js';

/**
 * Synapse's stream-id sequences are standalone: one wave took `receipts_sequence` along and its
 * service gave out values up to 10000; a later wave carrying it again got the source's 501,
 * and the two databases gave out the same ids, without a word.
 */
const prefix = uniquePrefix();
let source: string;
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  source = await createDatabase(servers().main, `${prefix}core`);
  await query(
    source,
    `CREATE SEQUENCE stream_seq START 1;
     CREATE SEQUENCE lonely_seq;
     SELECT setval('stream_seq', 501);
     CREATE TABLE receipts (id bigint PRIMARY KEY DEFAULT nextval('stream_seq'), body text);
     CREATE TABLE events (id bigint PRIMARY KEY DEFAULT nextval('stream_seq'), body text);
     CREATE TABLE rooms (id int PRIMARY KEY);`,
  );
  dir = await mkdtemp(join(tmpdir(), 'cps-wave-seq-'));
  env = { ...process.env, SRC_URL: source, CTL_URL: withDatabase(servers().main, `${prefix}control`) };
});
afterAll(async () => {
  for (const db of ['core', 'control', 'receipts', 'events', 'rooms']) await query(servers().main, `DROP DATABASE IF EXISTS "${prefix}${db}" WITH (FORCE)`);
});

async function manifest(name: string, service: string, tables: string[], objects: string[] = []): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(
    file,
    [
      'version: 1',
      `name: ${prefix}${name}`,
      'source: { url: "${SRC_URL}" }',
      'control: { url: "${CTL_URL}" }',
      'services:',
      `  ${service}:`,
      `    database: ${prefix}${service}`,
      `    tables: [${tables.join(', ')}]`,
      ...(objects.length ? [`    objects: [${objects.join(', ')}]`] : []),
      'ignore: ["*"]',
      '',
    ].join('\n'),
  );
  return file;
}

describe('a sequence an earlier wave carried', () => {
  it('carried again by a later wave is named (taken along by its tables) or refused (listed under objects), not copied behind in silence', async () => {
    const first = await manifest('receipts', 'receipts', ['receipts'], ['stream_seq', 'lonely_seq']);
    const applied = await runCli(['apply', '--yes', '-m', first], env);
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    await query(withDatabase(servers().main, `${prefix}receipts`), `SELECT setval('stream_seq', 10000)`);

    const listed = await manifest('events', 'events', ['events'], ['stream_seq']);
    const refused = await runCli(['plan', '-m', listed, '--json', '-o', join(dir, 'listed.plan.json')], env);
    expect(refused.code, refused.stderr).toBe(1);
    const what = `sequence public.stream_seq went with split ${prefix}receipts into ${prefix}receipts, which gives out its values now: ${prefix}events (events) would get a second copy set to the source's value, behind the values ${prefix}receipts has given out since, and the two would give out the same values`;
    expect((JSON.parse(refused.stdout) as { errors: string[] }).errors).toEqual([`${what}; remove it from services.events.objects (a sequence is moved once)`]);

    const along = await manifest('events2', 'events', ['events']);
    const warned = await runCli(['plan', '-m', along, '--json', '-o', join(dir, 'along.plan.json')], env);
    expect(warned.code, warned.stderr).toBe(0);
    expect((JSON.parse(warned.stdout) as { warnings: string[] }).warnings).toContainEqual(expect.stringContaining(`${what} (the tables of events that use it take it along)`));

    // A wave that does not use it says where it went, not that nothing needs it.
    const other = await manifest('rooms', 'rooms', ['rooms']);
    const rooms = await runCli(['plan', '-m', other, '-o', join(dir, 'rooms.plan.json')], env);
    expect(rooms.code, rooms.stderr).toBe(0);
    expect(rooms.stdout).toMatch(/public\.stream_seq[^\n]*split \S*receipts/);
    expect(rooms.stdout).not.toMatch(/public\.stream_seq[^\n]*no moved table, view or function needs it/);
    // One that only that split's objects named, no table using it.
    expect(rooms.stdout).toMatch(/public\.lonely_seq[^\n]*split \S*receipts/);
    expect(rooms.stdout).not.toMatch(/public\.lonely_seq[^\n]*no moved table, view or function needs it/);
  });
});
