import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { servers, query, uniquePrefix, createDatabase, pg15, second } from '../harness/servers.js';
import { CopyIn, CopyOut, RELAY_CHUNK } from '../../src/pg/copy-relay.js';

const prefix = uniquePrefix();
let source: string;
let target: string;
let source15: string;

async function client(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** Pipes `copyOut` on `from` into `copyIn` on `to` in one target transaction; returns the two row counts. */
async function relay(from: string, copyOut: string, to: string, copyIn: string, recycle = true): Promise<{ read: number; stored: number }> {
  const [s, d] = await Promise.all([client(from), client(to)]);
  try {
    await d.query('BEGIN');
    const out = s.query(new CopyOut(copyOut));
    // With recycling (as the copy step runs it), each written buffer is reused for later rows.
    const inp = d.query(new CopyIn(copyIn, recycle ? { recycle: (b) => out.recycle(b) } : {}));
    try {
      await pipeline(out, inp);
    } catch (err) {
      await d.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    await d.query('COMMIT');
    // Both connections are usable again.
    expect((await s.query('SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });
    expect((await d.query('SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });
    return { read: out.rowCount, stored: inp.rowCount };
  } finally {
    await Promise.all([s.end(), d.end()]);
  }
}

async function sums(url: string, table: string): Promise<{ n: string; h: string }> {
  const r = await query<{ n: string; h: string }>(url, `SELECT count(*)::text AS n, coalesce(sum(hashtextextended(t::text, 0)), 0)::text AS h FROM ${table} AS t`);
  return r[0]!;
}

const DDL = `CREATE TABLE mixed (id bigint, note text, blob bytea, doc jsonb, tags text[])`;

beforeAll(async () => {
  source = await createDatabase(servers().main, `${prefix}relay_src`);
  target = await createDatabase(second(), `${prefix}relay_dst`);
  source15 = await createDatabase(pg15(), `${prefix}relay_src15`);
  for (const url of [source, source15]) {
    await query(url, DDL);
    // Rows from a few bytes to 3x the relay chunk, so rows and headers straddle every boundary.
    await query(
      url,
      `INSERT INTO mixed
       SELECT i,
              CASE WHEN i % 500 = 0 THEN repeat(md5(i::text), ${Math.ceil((3 * RELAY_CHUNK) / 32)}) WHEN i % 7 = 0 THEN NULL ELSE 'row ' || i END,
              CASE WHEN i % 3 = 0 THEN decode(md5(i::text), 'hex') END,
              jsonb_build_object('i', i, 'tab', E'a\\tb', 'nl', E'x\\ny'),
              ARRAY['a' || i, NULL, 'quote"d']
       FROM generate_series(1, 20000) AS i`,
    );
  }
  await query(target, DDL);
  await query(target, `CREATE TABLE strict (id int NOT NULL, v int CHECK (v < 1000))`);
});

afterAll(async () => {
  await query(servers().main, `DROP DATABASE IF EXISTS "${prefix}relay_src" WITH (FORCE)`);
  await query(second(), `DROP DATABASE IF EXISTS "${prefix}relay_dst" WITH (FORCE)`);
  await query(pg15(), `DROP DATABASE IF EXISTS "${prefix}relay_src15" WITH (FORCE)`);
});

describe('CopyOut | CopyIn', () => {
  it.each([
    ['binary', 'FORMAT binary', true],
    ['text', 'FORMAT text', true],
    ['binary, buffers not recycled,', 'FORMAT binary', false],
  ])('moves every row byte for byte in %s format, rows larger than a chunk included', async (_name, format, recycle) => {
    await query(target, 'TRUNCATE mixed');
    const n = await relay(source, `COPY mixed TO STDOUT (${format})`, target, `COPY mixed FROM STDIN (${format})`, recycle);
    expect(n).toEqual({ read: 20000, stored: 20000 });
    expect(await sums(target, 'mixed')).toEqual(await sums(source, 'mixed'));
  });

  it('moves rows from PostgreSQL 15 into 18', async () => {
    await query(target, 'TRUNCATE mixed');
    const n = await relay(source15, 'COPY mixed TO STDOUT (FORMAT binary)', target, 'COPY mixed FROM STDIN (FORMAT binary)');
    expect(n).toEqual({ read: 20000, stored: 20000 });
    expect(await sums(target, 'mixed')).toEqual(await sums(source15, 'mixed'));
  });

  it('an empty result: zero rows, both connections usable', async () => {
    await query(target, 'TRUNCATE mixed');
    expect(await relay(source, 'COPY (SELECT * FROM mixed WHERE false) TO STDOUT (FORMAT binary)', target, 'COPY mixed FROM STDIN (FORMAT binary)')).toEqual({ read: 0, stored: 0 });
  });

  it('skips notices the source sends in the middle of the copy', async () => {
    await query(source, `CREATE OR REPLACE FUNCTION noisy(i int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN IF i % 1000 = 0 THEN RAISE NOTICE 'at %', i; END IF; RETURN i; END $$`);
    await query(target, 'TRUNCATE strict');
    const n = await relay(source, 'COPY (SELECT noisy(i), i % 1000 FROM generate_series(1, 5000) AS i) TO STDOUT', target, 'COPY strict FROM STDIN');
    expect(n).toEqual({ read: 5000, stored: 5000 });
  });

  it('an error on the source mid-copy fails the pipe and leaves nothing in the target', async () => {
    await query(target, 'TRUNCATE strict');
    const failing = 'COPY (SELECT i, (CASE WHEN i = 40000 THEN 1 / 0 ELSE i % 1000 END) FROM generate_series(1, 50000) AS i) TO STDOUT';
    await expect(relay(source, failing, target, 'COPY strict FROM STDIN')).rejects.toThrow(/division by zero/);
    expect(await sums(target, 'strict')).toMatchObject({ n: '0' });
  });

  it('an error on the target mid-copy fails the pipe with the target error', async () => {
    await query(target, 'TRUNCATE strict');
    const bad = 'COPY (SELECT i, (CASE WHEN i = 30000 THEN 5000 ELSE i % 1000 END) FROM generate_series(1, 50000) AS i) TO STDOUT';
    await expect(relay(source, bad, target, 'COPY strict FROM STDIN')).rejects.toThrow(/check constraint/);
    expect(await sums(target, 'strict')).toMatchObject({ n: '0' });
  });

  it('a COPY the target refuses at once (no such table) fails the pipe, not the process', async () => {
    await expect(relay(source, 'COPY mixed TO STDOUT', target, 'COPY no_such_table FROM STDIN')).rejects.toThrow(/no_such_table/);
  });

  it('destroying the source stream cancels the target COPY (CopyFail) and the target session survives', async () => {
    const [s, d] = await Promise.all([client(source), client(target)]);
    try {
      await d.query('BEGIN');
      const out = s.query(new CopyOut('COPY (SELECT i, i % 1000 FROM generate_series(1, 3000000) AS i) TO STDOUT'));
      const inp = d.query(new CopyIn('COPY strict FROM STDIN'));
      out.once('data', () => out.destroy(new Error('interrupted by the test')));
      await expect(pipeline(out, inp)).rejects.toThrow(/interrupted by the test/);
      await d.query('ROLLBACK');
      expect((await d.query<{ n: number }>('SELECT count(*)::int AS n FROM strict')).rows[0]!.n).toBe(0);
    } finally {
      await Promise.all([s.end().catch(() => undefined), d.end()]);
    }
  });
  it('counts the time the pipe waited on the source and on the target', async () => {
    // The source takes at least 0.6 s to produce its three rows; the target at least 0.6 s to store them.
    await query(target, `CREATE TABLE slow (id int)`);
    await query(target, `CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.2); RETURN NEW; END $$`);
    await query(target, `CREATE TRIGGER slow_insert BEFORE INSERT ON slow FOR EACH ROW EXECUTE FUNCTION slow_insert()`);
    const [s, d] = await Promise.all([client(source), client(target)]);
    try {
      await d.query('BEGIN');
      const out = s.query(new CopyOut(`COPY (SELECT g FROM generate_series(1, 3) g WHERE pg_sleep(0.2) IS NOT NULL) TO STDOUT (FORMAT binary)`));
      const inp = d.query(new CopyIn(`COPY slow (id) FROM STDIN (FORMAT binary)`));
      await pipeline(out, inp);
      await d.query('COMMIT');
      expect(inp.rowCount).toBe(3);
      expect(out.sourceWaitMs).toBeGreaterThanOrEqual(550);
      expect(inp.targetWaitMs).toBeGreaterThanOrEqual(550);
      // Once the copy is over, the waits stop counting.
      const [read, write] = [out.sourceWaitMs, inp.targetWaitMs];
      await new Promise((r) => setTimeout(r, 50));
      expect([out.sourceWaitMs, inp.targetWaitMs]).toEqual([read, write]);
    } finally {
      await Promise.all([s.end(), d.end()]);
    }
  });
});
