import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, query, servers, uniquePrefix } from '../harness/servers.js';
import { findDifferingRows, type RowDiff, type RowKey } from '../../src/verify/bisect.js';
import { openPinned } from '../../src/verify/sides.js';
import { rowExpr, rowHashExpr, type HashColumn } from '../../src/verify/checksum-sql.js';
import { MAX_KEYS } from '../../src/verify/checksum.js';
import { verifySplit } from '../../src/verify/verify.js';
import { buildSplit, type Split } from './verify-fixture.js';

/**
 * The bisection of verify --checksums on tables built for it: two databases of one server
 * ("source" and "target") holding the same tables, then changed on the target side. Each
 * case names exactly which rows it changed and expects exactly those keys back.
 */
const prefix = uniquePrefix();
let sourceUrl = '';
let targetUrl = '';
let source: pg.Pool;
let target: pg.Pool;

beforeAll(async () => {
  sourceUrl = await createDatabase(servers().main, `${prefix}bisect_src`);
  targetUrl = await createDatabase(servers().main, `${prefix}bisect_dst`);
  source = new pg.Pool({ connectionString: sourceUrl, max: 2 });
  target = new pg.Pool({ connectionString: targetUrl, max: 2 });
});

afterAll(async () => {
  await source?.end();
  await target?.end();
  for (const db of ['bisect_src', 'bisect_dst']) await query(servers().main, `DROP DATABASE IF EXISTS "${prefix}${db}" WITH (FORCE)`);
});

/** Runs `sql` on both databases. */
async function onBoth(sql: string): Promise<void> {
  await query(sourceUrl, sql);
  await query(targetUrl, sql);
}

/** findDifferingRows over `table` with the record hash of `columns` (all hashable), as verify calls it. */
async function bisect(table: string, columns: string[], key: RowKey, opts: { limit?: number; leafRows?: number; buckets?: number } = {}): Promise<RowDiff[]> {
  const hashed: HashColumn[] = columns.map((name) => ({ name, text: false }));
  const [s, t] = await Promise.all([openPinned(source), openPinned(target)]);
  try {
    const [{ n }] = (await s.query<{ n: string }>(`SELECT count(*)::text AS n FROM "${table}"`)) as [{ n: string }];
    return await findDifferingRows({
      table: { schema: 'public', name: table },
      rowHash: rowHashExpr(hashed, 'record'),
      key,
      source: s.query,
      target: t.query,
      rows: Number(n),
      limit: opts.limit ?? MAX_KEYS,
      ...(opts.leafRows !== undefined ? { leafRows: opts.leafRows } : {}),
      ...(opts.buckets !== undefined ? { buckets: opts.buckets } : {}),
    });
  } finally {
    await Promise.all([s.close(), t.close()]);
  }
}

describe('verify bisection', () => {
  it('a text key goes the hash path and returns exactly the differing keys with their states, in key order', async () => {
    await onBoth(`CREATE TABLE codes (code text PRIMARY KEY, v int NOT NULL)`);
    await onBoth(`INSERT INTO codes SELECT 'c' || lpad(g::text, 5, '0'), g FROM generate_series(1, 5000) AS g`);
    await query(targetUrl, `UPDATE codes SET v = -v WHERE code IN ('c00017', 'c04242')`);
    await query(targetUrl, `DELETE FROM codes WHERE code = 'c02000'`);
    await query(targetUrl, `INSERT INTO codes VALUES ('c99999', 1)`);
    const key: RowKey = { kind: 'primary', columns: ['code'], integer: false };
    const expected = [
      { key: { code: 'c00017' }, state: 'changed' },
      { key: { code: 'c02000' }, state: 'missing in target' },
      { key: { code: 'c04242' }, state: 'changed' },
      { key: { code: 'c99999' }, state: 'extra in target' },
    ];
    // Small segments and few buckets: several levels of hashing before the rows are compared.
    expect(await bisect('codes', ['code', 'v'], key, { leafRows: 5, buckets: 4 })).toEqual(expected);
    expect(await bisect('codes', ['code', 'v'], key)).toEqual(expected);
  });

  it('a composite key names every column of each differing row', async () => {
    await onBoth(`CREATE TABLE readings (tenant text, id int, v numeric NOT NULL, PRIMARY KEY (tenant, id))`);
    await onBoth(`INSERT INTO readings SELECT t, g, g * 1.5 FROM unnest(ARRAY['acme', 'globex', 'initech']) AS t, generate_series(1, 1500) AS g`);
    await query(targetUrl, `UPDATE readings SET v = v + 1 WHERE (tenant, id) IN (('globex', 7), ('acme', 1200))`);
    await query(targetUrl, `DELETE FROM readings WHERE (tenant, id) = ('initech', 3)`);
    await query(targetUrl, `INSERT INTO readings VALUES ('umbrella', 1, 0)`);
    const diffs = await bisect('readings', ['tenant', 'id', 'v'], { kind: 'primary', columns: ['tenant', 'id'], integer: false }, { leafRows: 10, buckets: 8 });
    const byKey = (d: RowDiff) => `${d.key.tenant}/${d.key.id}`;
    expect(diffs.map((d) => [byKey(d), d.state]).sort()).toEqual([
      ['acme/1200', 'changed'],
      ['globex/7', 'changed'],
      ['initech/3', 'missing in target'],
      ['umbrella/1', 'extra in target'],
    ]);
    expect(diffs.every((d) => Object.keys(d.key).join() === 'tenant,id')).toBe(true);
  });

  it('a table without a key and thousands of identical rows names the rows that differ, the same on every run', async () => {
    await onBoth(`CREATE TABLE hits (path text, n int)`);
    // 6000 identical rows, more than a leaf compares at once, and a few distinct ones.
    await onBoth(`INSERT INTO hits SELECT '/ping', 1 FROM generate_series(1, 6000)`);
    await onBoth(`INSERT INTO hits SELECT '/page/' || g, g FROM generate_series(1, 50) AS g`);
    await query(targetUrl, `DELETE FROM hits WHERE ctid IN (SELECT ctid FROM hits WHERE path = '/ping' LIMIT 2)`);
    await query(targetUrl, `INSERT INTO hits VALUES ('/page/7', 8)`);
    const key: RowKey = { kind: 'row', rowText: `${rowExpr([{ name: 'path', text: true }, { name: 'n', text: true }], 'text')}::text` };
    const expected = [
      { key: { row: '(/page/7,8)' }, state: 'extra in target' },
      { key: { row: '(/ping,1)' }, state: 'missing in target' },
      { key: { row: '(/ping,1)' }, state: 'missing in target' },
    ];
    for (let run = 0; run < 3; run++) expect(await bisect('hits', ['path', 'n'], key)).toEqual(expected);
    // Rows reordered on disk (a rewrite) name the same rows.
    await query(targetUrl, `CREATE INDEX hits_order ON hits (n DESC, path DESC)`);
    await query(targetUrl, `CLUSTER hits USING hits_order`);
    expect(await bisect('hits', ['path', 'n'], key)).toEqual(expected);
  });
});

describe('verify --checksums names at most 10 differing rows', () => {
  let split: Split | null = null;
  afterAll(async () => {
    await split?.cleanup();
  });

  it('15 changed rows: the first 10 by key are named, in the check and its keys', async () => {
    split = await buildSplit({ sourceServer: servers().main, targetServer: servers().main });
    const s = split;
    const changed = [3, 14, 15, 92, 653, 589, 793, 2384, 626, 433, 832, 795, 28, 841, 971];
    await query(s.usersUrl, `UPDATE users SET username = username || '!' WHERE id = ANY($1::int[])`, [changed]);
    const r = await verifySplit({ plan: s.plan, pools: s.pools, servers: s.servers, rolePasswords: s.passwords, checksums: true, health: false, baseDir: s.baseDir });
    const users = r.checks.find((c) => c.kind === 'checksum' && c.table === 'public.users')!;
    expect(users.ok).toBe(false);
    const first10 = [...changed].sort((a, b) => a - b).slice(0, MAX_KEYS);
    expect(MAX_KEYS).toBe(10);
    expect(users.keys).toEqual(first10.map((id) => ({ id: String(id) })));
    expect(users.detail).toContain(`rows differ at ${first10.map((id) => `id=${id} (changed)`).join(', ')}`);
    expect(users.detail).not.toContain('id=971');
  });
});
