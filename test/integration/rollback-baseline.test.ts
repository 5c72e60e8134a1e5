import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { servers, query, uniquePrefix, createDatabase, pg15 } from '../harness/servers.js';
import { tableSums, type SumMethod, type TableSum } from '../../src/retention/table-sums.js';
import { changedTargets } from '../../src/rollback/target-check.js';
import type { Baseline } from '../../src/rollback/rollback-inventory.js';

const prefix = uniquePrefix();
const database = `${prefix}baseline`;
const TABLES = ['public.odd', 'public.Quoted table'];

async function sumsOf(url: string, method?: SumMethod): Promise<Record<string, TableSum>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await tableSums(c, TABLES, method);
  } finally {
    await c.end();
  }
}

function baselines(sums: Record<string, TableSum>, over: Partial<Baseline> = {}): Baseline[] {
  return Object.entries(sums).map(([table, s]) => ({
    server: 'main',
    database,
    table,
    rows: s.rows,
    sum: s.sum,
    sumRows: s.rows,
    method: s.method ?? null,
    major: s.major ?? null,
    ...over,
  }));
}

const setup = [
  `CREATE TYPE mood AS ENUM ('sad', 'ok')`,
  // json, point and money have no extended hash: they are hashed through their text.
  `CREATE TABLE odd (id int PRIMARY KEY, m mood, j json, p point, cash money, f float8, n numeric, a int[])`,
  `INSERT INTO odd SELECT i, 'ok', json_build_object('i', i), point(i, -i), i, i / 3.0, i * 1.5, ARRAY[i, NULL] FROM generate_series(1, 500) AS i`,
  `CREATE TABLE "Quoted table" (id int)`,
];

let url: string;
let url15: string;

beforeAll(async () => {
  url = await createDatabase(servers().main, database);
  url15 = await createDatabase(pg15(), database);
  for (const u of [url, url15]) for (const s of setup) await query(u, s);
});

afterAll(async () => {
  await query(servers().main, `DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  await query(pg15(), `DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
});

describe('rollback baselines (count and checksum of each target table)', () => {
  it('are taken with hash_record_extended seeded by the key, through types that have no hash, and record the method and major', async () => {
    const sums = await sumsOf(url);
    expect(sums['public.odd']).toMatchObject({ rows: 500, method: 'exact', major: 18 });
    expect(sums['public.Quoted table']).toMatchObject({ rows: 0, sum: '0', method: 'exact' });
    expect((await sumsOf(url15))['public.odd']).toMatchObject({ rows: 500, method: 'exact', major: 15 });
  });

  it('see a write that PostgreSQL calls equal but a service reads back differently (numeric scale, float -0, jsonb, interval, a case-insensitive type), where verify\'s equality hash does not', async () => {
    const servers_ = { main: servers().main };
    const table = [...TABLES, 'public.lossy'];
    const sumOf = async (method?: SumMethod) => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        return baselines(await tableSums(c, table, method));
      } finally {
        await c.end();
      }
    };
    await query(url, `CREATE EXTENSION IF NOT EXISTS citext`);
    await query(url, `CREATE TABLE lossy (id int PRIMARY KEY, n numeric, f float8, j jsonb, i interval, e citext[])`);
    await query(url, `INSERT INTO lossy VALUES (1, 0.0, 0, '{"a": 1.0}', '1 day', '{ab@x}'), (2, 2, 2, '{}', '1 hour', '{cd@x}')`);
    try {
      const exact = await sumOf();
      const keyed = await sumOf('keyed');
      expect(exact[0]!.method).toBe('exact');
      expect((await changedTargets(servers_, exact)).changes).toEqual([]);
      const writes = [
        [`UPDATE lossy SET n = 0.00 WHERE id = 1`, `UPDATE lossy SET n = 0.0 WHERE id = 1`],
        [`UPDATE lossy SET f = '-0' WHERE id = 1`, `UPDATE lossy SET f = 0 WHERE id = 1`],
        [`UPDATE lossy SET j = '{"a": 1.00}' WHERE id = 1`, `UPDATE lossy SET j = '{"a": 1.0}' WHERE id = 1`],
        [`UPDATE lossy SET i = '24 hours' WHERE id = 1`, `UPDATE lossy SET i = '1 day' WHERE id = 1`],
        [`UPDATE lossy SET e = '{AB@X}' WHERE id = 1`, `UPDATE lossy SET e = '{ab@x}' WHERE id = 1`],
      ];
      for (const [write, undo] of writes) {
        await query(url, write!);
        try {
          expect((await changedTargets(servers_, exact)).changes, write).toEqual([expect.objectContaining({ table: 'public.lossy', change: 'same row count, but rows were changed (checksum differs)' })]);
          // The hash verify compares with (and earlier versions recorded) calls these equal.
          expect((await changedTargets(servers_, keyed)).changes, write).toEqual([]);
        } finally {
          await query(url, undo!);
        }
      }
      expect((await changedTargets(servers_, exact)).changes).toEqual([]);
    } finally {
      await query(url, `DROP TABLE lossy; DROP EXTENSION citext`);
    }
  });

  it('see values swapped between two rows (unseeded record sums of earlier versions may not: verify.test.ts), and still take those again', async () => {
    const servers_ = { main: servers().main };
    const keyed = baselines(await sumsOf(url));
    const legacy = baselines(await sumsOf(url, 'text'));
    const recorded = baselines(await sumsOf(url, 'record'));
    expect(recorded[0]!.method).toBe('record');
    // Sums recorded by an earlier version are taken again the same way: nothing changed, nothing reported.
    expect((await changedTargets(servers_, recorded)).changes).toEqual([]);
    await query(url, `UPDATE odd SET f = CASE id WHEN 3 THEN 4 / 3.0 ELSE 3 / 3.0 END WHERE id IN (3, 4)`);
    try {
      for (const b of [keyed, legacy]) {
        const { changes } = await changedTargets(servers_, b);
        expect(changes).toEqual([expect.objectContaining({ table: 'public.odd', change: 'same row count, but rows were changed (checksum differs)' })]);
      }
    } finally {
      await query(url, `UPDATE odd SET f = id / 3.0 WHERE id IN (3, 4)`);
    }
    expect((await changedTargets(servers_, keyed)).changes).toEqual([]);
  });

  it('of an empty table, known by its size without reading it, equal what reading it gives; a table with one row is read', async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const read = await tableSums(c, TABLES);
      const bySize = await tableSums(c, TABLES, undefined, { emptyBySize: true });
      expect(read['public.Quoted table']).toEqual({ rows: 0, sum: '0', method: 'exact', major: expect.any(Number) });
      expect(bySize).toEqual(read);
      await c.query(`INSERT INTO "Quoted table" VALUES (1)`);
      try {
        const one = await tableSums(c, ['public.Quoted table'], undefined, { emptyBySize: true });
        expect(one['public.Quoted table']!.rows).toBe(1);
        expect(one['public.Quoted table']!.sum).not.toBe('0');
        // Deleted again, its page stays: read, still 0 rows and sum 0.
        await c.query(`DELETE FROM "Quoted table"`);
        expect((await tableSums(c, ['public.Quoted table'], undefined, { emptyBySize: true }))['public.Quoted table']).toEqual(read['public.Quoted table']);
      } finally {
        await c.query(`DELETE FROM "Quoted table"`);
      }
    } finally {
      await c.end();
    }
  });

  it('see no change on an untouched table, and see a change to a json value with the same row count', async () => {
    const servers_ = { main: servers().main };
    const before = baselines(await sumsOf(url));
    const legacy = baselines(await sumsOf(url, 'text'));
    expect(legacy[0]!.method).toBe('text');
    // Those journals hold sums taken with the SQL of the time: the text method still gives the same numbers.
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    let old: string;
    try {
      for (const set of [`TimeZone = 'UTC'`, `DateStyle = 'ISO, YMD'`, `IntervalStyle = 'postgres'`, 'extra_float_digits = 1', `bytea_output = 'hex'`]) await c.query(`SET ${set}`);
      old = (await c.query<{ sum: string }>(`SELECT coalesce(sum(hashtextextended(t::text, 0)), 0)::text AS sum FROM ONLY public.odd AS t`)).rows[0]!.sum;
    } finally {
      await c.end();
    }
    expect(legacy.find((b) => b.table === 'public.odd')!.sum).toBe(old);
    expect((await changedTargets(servers_, before)).changes).toEqual([]);
    // A journal written before the method was recorded holds text sums: they still compare.
    expect((await changedTargets(servers_, legacy.map((b) => ({ ...b, method: null, major: null })))).changes).toEqual([]);

    await query(url, `UPDATE odd SET j = '{"i": 7, "changed": true}' WHERE id = 7`);
    try {
      for (const b of [before, legacy]) {
        const { changes } = await changedTargets(servers_, b);
        expect(changes).toEqual([expect.objectContaining({ table: 'public.odd', change: 'same row count, but rows were changed (checksum differs)' })]);
      }
    } finally {
      await query(url, `UPDATE odd SET j = json_build_object('i', 7) WHERE id = 7`);
    }
    expect((await changedTargets(servers_, before)).changes).toEqual([]);
  });

  it('refuse to compare a record checksum taken on another major version, and say why (an empty table needs none)', async () => {
    const taken = baselines(await sumsOf(url), { major: 17 });
    const { changes } = await changedTargets({ main: servers().main }, taken);
    expect(changes.map((c) => c.table)).toEqual(['public.odd']);
    expect(changes[0]!.change).toMatch(/upgraded from PostgreSQL 17 to 18 since the split.*check the table by hand/);
  });
});
