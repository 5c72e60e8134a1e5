import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDatabase, pg15, query, servers, uniquePrefix, withDatabase } from '../harness/servers.js';
import { runCli } from './helpers/cli.js';

/** The TypeORM/Rails pattern whose deparse changes on every re-parse, with an index and a default built the same way. */
const SCHEMA = `
  CREATE TABLE orders (
    id int PRIMARY KEY,
    status varchar(10) NOT NULL DEFAULT 'a'::varchar CHECK (status IN ('a', 'b')),
    kind character varying CHECK (kind IN ('x', 'y', 'z')),
    note varchar(20) DEFAULT ('n' || 'a')::varchar
  );
  CREATE INDEX orders_open ON orders (lower(status)) WHERE status IN ('a', 'b');
  INSERT INTO orders VALUES (1, 'a', 'x', 'first'), (2, 'b', NULL, DEFAULT);`;

interface Split {
  env: NodeJS.ProcessEnv;
  manifest: string;
  target: string;
}

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function split(sourceServer: string, targetServer: string): Promise<Split> {
  const prefix = uniquePrefix();
  const source = await createDatabase(sourceServer, `${prefix}src`);
  const target = withDatabase(targetServer, `${prefix}orders`);
  cleanups.push(() => query(sourceServer, `DROP DATABASE IF EXISTS "${prefix}src" WITH (FORCE)`));
  cleanups.push(() => query(sourceServer, `DROP DATABASE IF EXISTS "${prefix}control" WITH (FORCE)`));
  cleanups.push(() => query(targetServer, `DROP DATABASE IF EXISTS "${prefix}orders" WITH (FORCE)`));
  await query(source, SCHEMA);
  const dir = await mkdtemp(join(tmpdir(), 'cps-deparse-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const manifest = join(dir, 'split.yaml');
  await writeFile(
    manifest,
    `version: 1\nname: ${prefix.replaceAll('_', '-')}deparse\nsource:\n  url: \${SRC}\ncontrol:\n  url: \${CTL}\nservers:\n  target: \${TGT}\n` +
      `services:\n  orders:\n    database: ${prefix}orders\n    server: target\n    tables: [orders]\n`,
  );
  const env = { ...process.env, NO_COLOR: '1', SRC: source, CTL: withDatabase(sourceServer, `${prefix}control`), TGT: targetServer };
  const r = await runCli(['apply', '-m', manifest, '--yes'], env);
  expect(r.code, r.stderr + r.stdout).toBe(0);
  return { env, manifest, target };
}

async function verify(s: Split): Promise<{ code: number; checks: Array<{ kind: string; ok: boolean; detail: string }> }> {
  const r = await runCli(['verify', '-m', s.manifest, '--json'], s.env);
  return { code: r.code, checks: (JSON.parse(r.stdout) as { checks: Array<{ kind: string; ok: boolean; detail: string }> }).checks };
}

describe('verify compares definitions the way the server does', () => {
  for (const [label, from] of [
    ['PostgreSQL 18 to 18', () => servers().main],
    ['PostgreSQL 15 to 18', () => pg15()],
  ] as const) {
    it(`passes a clean split of CHECK (status IN (...)) on varchar, its index and defaults (${label})`, async () => {
      const s = await split(from(), servers().main);
      // The text really differs: what the source says is not what the target says.
      const [src] = await query<{ d: string }>(s.env.SRC!, `SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE conname = 'orders_status_check'`);
      const [dst] = await query<{ d: string }>(s.target, `SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE conname = 'orders_status_check'`);
      expect(src!.d).not.toBe(dst!.d);
      const v = await verify(s);
      const schema = v.checks.filter((c) => c.kind === 'schema');
      expect(schema.length).toBeGreaterThan(0);
      expect(schema.filter((c) => !c.ok), JSON.stringify(schema)).toEqual([]);
      expect(v.code).toBe(0);
    });
  }

  it('still reports a constraint, an index and a default that really differ, and leaves nothing behind in the target', async () => {
    const s = await split(servers().main, servers().main);
    await query(
      s.target,
      `ALTER TABLE orders DROP CONSTRAINT orders_kind_check, ADD CONSTRAINT orders_kind_check CHECK (kind IN ('x', 'y'));
       ALTER TABLE orders ALTER COLUMN note SET DEFAULT 'nb'::varchar;
       DROP INDEX orders_open; CREATE INDEX orders_open ON orders (lower(status)) WHERE status IN ('a');`,
    );
    const v = await verify(s);
    expect(v.code).toBe(1);
    const detail = v.checks.filter((c) => c.kind === 'schema' && !c.ok).map((c) => c.detail).join('\n');
    expect(detail).toMatch(/constraint orders_kind_check definition differs/);
    expect(detail).toMatch(/index orders_open definition differs/);
    expect(detail).toMatch(/column orders.note default differs/);
    expect(detail).not.toMatch(/orders_status_check/);
    const scratch = await query(s.target, `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'cloudphone_split_scratch%'`);
    expect(scratch).toEqual([]);
  });
});
