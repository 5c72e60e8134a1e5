import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { pg15, query, servers } from '../harness/servers.js';
import type { CopyDataStep, Plan } from '../../src/plan/model.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { expectSameData } from './helpers/assert-split.js';
import { SAMPLE_DENORMALIZED, expectDenormalizedValues, expectPlannedDenormalized, type DenormalizedColumn } from './helpers/denormalized-values.js';

const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

/**
 * Referenced tables (user-service) and a table of device-service that reads from
 * them: a nullable foreign key with a quarter NULL and one key shared by a quarter of
 * the rows, a two-column foreign key with rows NULL in one part, a column with no
 * foreign key whose values often match nothing, and a partitioned referenced table.
 */
const SCHEMA = `
CREATE TABLE fill_owner (id bigint PRIMARY KEY, label text NOT NULL, tier int);
INSERT INTO fill_owner SELECT g, 'owner ' || g, CASE WHEN g % 5 = 0 THEN NULL ELSE g % 7 END FROM generate_series(1, 1000) g;
CREATE TABLE fill_pair (region text, num int, title text NOT NULL, code text, PRIMARY KEY (region, num));
INSERT INTO fill_pair SELECT r, n, r || '/' || n, CASE WHEN n % 3 = 0 THEN NULL ELSE 'c' || n END
  FROM unnest(ARRAY['eu', 'us', 'ap']) r, generate_series(1, 100) n;
CREATE TABLE fill_part (id bigint PRIMARY KEY, label text) PARTITION BY RANGE (id);
CREATE TABLE fill_part_low PARTITION OF fill_part FOR VALUES FROM (0) TO (500);
CREATE TABLE fill_part_high PARTITION OF fill_part FOR VALUES FROM (500) TO (MAXVALUE);
INSERT INTO fill_part SELECT g, 'part ' || g FROM generate_series(0, 999) g;
CREATE TABLE fill_rows (
  id bigint PRIMARY KEY,
  owner_id bigint REFERENCES fill_owner,
  region text,
  num int,
  loose_id bigint,
  part_id bigint,
  FOREIGN KEY (region, num) REFERENCES fill_pair
);
INSERT INTO fill_rows
SELECT g,
  CASE g % 4 WHEN 0 THEN NULL WHEN 1 THEN 7 ELSE g % 1000 + 1 END,
  CASE WHEN g % 10 = 0 THEN NULL ELSE (ARRAY['eu', 'us', 'ap'])[g % 3 + 1] END,
  CASE WHEN g % 10 = 1 THEN NULL ELSE g % 100 + 1 END,
  CASE WHEN g % 9 = 0 THEN NULL ELSE g % 2000 + 1 END,
  CASE WHEN g % 11 = 0 THEN NULL ELSE g % 1000 END
FROM generate_series(1, 20000) g;
-- Columns whose types device-service's own tables do not use: an extension's (citext), an enum and a domain.
CREATE TYPE fill_grade AS ENUM ('low', 'high');
CREATE DOMAIN fill_code AS text CHECK (VALUE <> '');
ALTER TABLE fill_owner ADD COLUMN nick citext, ADD COLUMN grade fill_grade, ADD COLUMN code fill_code;
UPDATE fill_owner SET nick = CASE WHEN id % 4 = 0 THEN NULL ELSE 'Nick ' || id END,
  grade = (CASE WHEN id % 3 = 0 THEN NULL WHEN id % 2 = 0 THEN 'high' ELSE 'low' END)::fill_grade, code = 'c' || id;
CREATE TABLE fill_typed (id bigint PRIMARY KEY, owner_id bigint REFERENCES fill_owner);
INSERT INTO fill_typed SELECT g, CASE WHEN g % 4 = 0 THEN NULL ELSE g % 1000 + 1 END FROM generate_series(1, 2000) g;
ANALYZE fill_owner, fill_pair, fill_part, fill_rows, fill_typed;
`;

const FILLED: DenormalizedColumn[] = [
  { service: 'device', table: 'public.fill_rows', column: 'owner_label', from: 'public.fill_owner', fromColumn: 'label', on: [['owner_id', 'id']] },
  { service: 'device', table: 'public.fill_rows', column: 'owner_tier', from: 'public.fill_owner', fromColumn: 'tier', on: [['owner_id', 'id']] },
  { service: 'device', table: 'public.fill_rows', column: 'owner_label_again', from: 'public.fill_owner', fromColumn: 'label', on: [['owner_id', 'id']] },
  { service: 'device', table: 'public.fill_rows', column: 'pair_title', from: 'public.fill_pair', fromColumn: 'title', on: [['region', 'region'], ['num', 'num']] },
  { service: 'device', table: 'public.fill_rows', column: 'pair_code', from: 'public.fill_pair', fromColumn: 'code', on: [['region', 'region'], ['num', 'num']] },
  { service: 'device', table: 'public.fill_rows', column: 'loose_label', from: 'public.fill_owner', fromColumn: 'label', on: [['loose_id', 'id']] },
  { service: 'device', table: 'public.fill_rows', column: 'part_label', from: 'public.fill_part', fromColumn: 'label', on: [['part_id', 'id']] },
];

/** Columns of types that nothing else of device-service uses: an extension's (citext), an enum, a domain. */
const TYPED: DenormalizedColumn[] = [
  { service: 'device', table: 'public.fill_typed', column: 'owner_nick', from: 'public.fill_owner', fromColumn: 'nick', on: [['owner_id', 'id']] },
  { service: 'device', table: 'public.fill_typed', column: 'owner_grade', from: 'public.fill_owner', fromColumn: 'grade', on: [['owner_id', 'id']] },
  { service: 'device', table: 'public.fill_typed', column: 'owner_code', from: 'public.fill_owner', fromColumn: 'code', on: [['owner_id', 'id']] },
];

/** Manifest entries: the foreign-key joins left implicit (or written), the others named. */
const ENTRIES = [
  { table: 'fill_rows', column: 'owner_label', from: 'fill_owner.label' },
  { table: 'fill_rows', column: 'owner_tier', from: 'fill_owner.tier' },
  { table: 'fill_rows', column: 'owner_label_again', from: 'fill_owner.label', on: ['owner_id'] },
  { table: 'fill_rows', column: 'pair_title', from: 'fill_pair.title' },
  { table: 'fill_rows', column: 'pair_code', from: 'fill_pair.code', on: ['region', 'num'] },
  { table: 'fill_rows', column: 'loose_label', from: 'fill_owner.label', on: ['loose_id'] },
  { table: 'fill_rows', column: 'part_label', from: 'fill_part.label', on: ['part_id'] },
  { table: 'fill_typed', column: 'owner_nick', from: 'fill_owner.nick' },
  { table: 'fill_typed', column: 'owner_grade', from: 'fill_owner.grade' },
  { table: 'fill_typed', column: 'owner_code', from: 'fill_owner.code' },
];

async function fillFixture(source: string, targets: string, mode: 'offline' | 'online' = 'offline'): Promise<SplitFixture> {
  const fx = await splitFixture({
    source,
    targets,
    scale: 0.1,
    edit: (doc) => {
      doc.mode = mode;
      const services = doc.services as Record<string, { tables: string[]; denormalize?: unknown[] }>;
      services['user-service']!.tables.push('fill_owner', 'fill_pair', 'fill_part');
      const device = services['device-service']!;
      device.tables.push('fill_rows', 'fill_typed');
      device.denormalize = [...(device.denormalize ?? []), ...ENTRIES];
    },
  });
  fixtures.push(fx);
  await query(fx.sourceUrl, SCHEMA);
  // The append-only login log has no primary key: online mode needs a replica identity.
  if (mode === 'online') await query(fx.sourceUrl, `ALTER TABLE user_login_history REPLICA IDENTITY FULL`);
  return fx;
}

/** Every denormalized column of fill_rows equals the source's join, with values, NULL keys and keys with no match. */
async function expectFilled(fx: SplitFixture): Promise<Map<string, { rows: number; values: number; nulls: number }>> {
  const checks = new Map<string, { rows: number; values: number; nulls: number }>();
  for (const d of FILLED) checks.set(d.column, await expectDenormalizedValues(fx, d));
  for (const [column, c] of checks) {
    expect(c.rows, column).toBe(20000);
    expect(c.values, column).toBeGreaterThan(0);
    expect(c.nulls, column).toBeGreaterThan(0);
  }
  // Labels are never NULL in fill_owner: exactly the rows with a NULL owner_id have none.
  const [nullKeys] = await query<{ n: number }>(fx.sourceUrl, `SELECT count(*)::int AS n FROM fill_rows WHERE owner_id IS NULL`);
  expect(nullKeys!.n).toBeGreaterThanOrEqual(5000);
  expect(checks.get('owner_label')!.nulls).toBe(nullKeys!.n);
  // loose_id matches nothing above 1000: those rows get NULL, not a duplicate or a neighbour's value.
  expect(checks.get('loose_label')!.nulls).toBeGreaterThan(checks.get('owner_label')!.nulls);
  // The partitioned table's rows are read through its partitions.
  expect(checks.get('part_label')!.values).toBeGreaterThan(15000);
  return checks;
}

/** The SELECT inside `COPY (SELECT …) TO STDOUT`. */
function selectOf(copyOut: string): string {
  const m = /^COPY \((SELECT .*)\) TO STDOUT/s.exec(copyOut);
  if (!m) throw new Error(`not a query copy: ${copyOut}`);
  return m[1]!;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

/** The source's plan of a query (JSON), with hash and merge joins made as cheap as the planner allows and nested loops discouraged. */
async function explainFavouringHash(url: string, select: string): Promise<PlanNode> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('SET enable_nestloop = off');
    await c.query('SET enable_memoize = off');
    await c.query('SET max_parallel_workers_per_gather = 0');
    const r = await c.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) ${select}`);
    return r.rows[0]!['QUERY PLAN'][0]!.Plan;
  } finally {
    await c.end();
  }
}

function nodes(n: PlanNode): PlanNode[] {
  return [n, ...(n.Plans ?? []).flatMap(nodes)];
}

/** The tables read under each Hash node: what the plan keeps in hash tables. */
function hashedTables(plan: PlanNode): string[] {
  return nodes(plan)
    .filter((n) => n['Node Type'] === 'Hash')
    .flatMap((h) => nodes(h).map((n) => n['Relation Name']).filter((r): r is string => r !== undefined));
}

describe('denormalized columns hold the values of the source join', () => {
  it('NULL keys, a repeated key, two-column keys, keys with no match and a partitioned source table (15 to 18)', async () => {
    const fx = await fillFixture(pg15(), servers().main);
    const plan: Plan = await fx.plan();
    expectPlannedDenormalized(plan, [...SAMPLE_DENORMALIZED, ...FILLED, ...TYPED]);
    const copy = plan.steps.find((s): s is CopyDataStep => s.kind === 'copy_data' && s.table === 'public.fill_rows')!;
    expect(copy.binary).toBe(true);
    // The small referenced tables (owner: three columns, pair: two, loose) are joined on their keys; the
    // partitioned one is probed per row. Whatever the planner is pushed towards, the only rows it may hash
    // are the referenced tables' (unique keys, NULL keys dropped): never fill_rows, whose NULL and repeated
    // keys a hash table cannot split.
    expect(copy.copyOut.match(/LEFT JOIN ONLY/g)?.length, copy.copyOut).toBe(3);
    expect(copy.copyOut.match(/LEFT JOIN LATERAL/g)?.length, copy.copyOut).toBe(1);
    const shape = await explainFavouringHash(fx.sourceUrl, selectOf(copy.copyOut));
    const plans = JSON.stringify(shape);
    expect(hashedTables(shape).sort(), plans).toEqual(['fill_owner', 'fill_owner', 'fill_pair']);
    expect(nodes(shape).filter((n) => n['Node Type'] === 'Merge Join'), plans).toEqual([]);
    expect(nodes(shape).filter((n) => n['Node Type'] === 'Limit'), plans).toHaveLength(1);

    const r = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    expect(r.code, r.stderr).toBe(0);
    await expectSameData(fx, plan);

    // A quarter of owner_id is NULL.
    expect((await expectFilled(fx)).get('owner_label')!.nulls).toBe(5000);
    // The columns' types came with them: the extension making citext, the enum and the domain, which nothing else of device-service uses.
    const device = fx.service('device').url;
    for (const d of TYPED) expect((await expectDenormalizedValues(fx, d)).values, d.column).toBeGreaterThan(0);
    const [types] = await query<{ citext: boolean; columns: string[] }>(
      device,
      `SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citext') AS citext,
        array_agg(format('%s %s', attname, format_type(atttypid, atttypmod)) ORDER BY attname) AS columns
       FROM pg_attribute WHERE attrelid = 'fill_typed'::regclass AND attname IN ('owner_nick', 'owner_grade', 'owner_code')`,
    );
    expect(types).toEqual({ citext: true, columns: ['owner_code fill_code', 'owner_grade fill_grade', 'owner_nick citext'] });
    await query(device, `INSERT INTO fill_typed (id, owner_nick, owner_grade, owner_code) VALUES (30001, 'NICK 1', 'high', 'c1')`);
    expect(await query(device, `SELECT id FROM fill_typed WHERE owner_nick = 'nick 1' AND owner_grade > 'low'`)).toEqual([{ id: '30001' }]);
    await expect(query(device, `UPDATE fill_typed SET owner_code = '' WHERE id = 30001`)).rejects.toThrow(/fill_code/);
    await query(device, `DELETE FROM fill_typed WHERE id = 30001`);

    const [binary] = await query<{ binary: string }>(
      fx.controlUrl,
      `SELECT detail->>'binary' AS binary FROM cloudphone_split.steps WHERE step_id = $1`,
      [copy.id],
    );
    expect(binary?.binary).toBe('true');

    // verify --checksums reruns each fill query on the source and compares the target's columns with it.
    const verified = await fx.cli('verify', '--checksums', '--json');
    expect(verified.code, verified.stderr).toBe(0);
    const denormalized = (JSON.parse(verified.stdout) as { checks: Array<{ kind: string; table?: string; ok: boolean }> }).checks
      .filter((c) => c.kind === 'denormalized')
      .map((c) => `${c.table} ${c.ok}`);
    expect(denormalized.sort()).toEqual(['public.devices true', 'public.fill_rows true', 'public.fill_typed true', 'public.orders true']);
    await query(fx.service('device').url, `UPDATE fill_rows SET owner_label = NULL`);
    const broken = await fx.cli('verify', '--checksums', '--json');
    expect(broken.code).toBe(1);
    const failedChecks = (JSON.parse(broken.stdout) as { checks: Array<{ kind: string; table?: string; ok: boolean }> }).checks.filter((c) => !c.ok);
    expect(failedChecks.map((c) => `${c.kind} ${c.table}`)).toEqual(['denormalized public.fill_rows']);
  });

  it('online: the cutover fill gives the same values, after changes behind the keys and the referenced values', async () => {
    const fx = await fillFixture(servers().main, servers().main, 'online');
    const plan = await fx.plan();
    expect(plan.errors).toEqual([]);
    const applied = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    // Replicated after the initial copy, so only the cutover fill can give their denormalized values.
    await query(
      fx.sourceUrl,
      `UPDATE fill_owner SET label = label || ' (renamed)' WHERE id IN (7, 8, 9);
       UPDATE fill_rows SET owner_id = NULL WHERE id BETWEEN 1 AND 40;
       UPDATE fill_rows SET owner_id = 7, loose_id = 5000 WHERE id BETWEEN 41 AND 80;
       UPDATE fill_rows SET region = NULL WHERE id BETWEEN 81 AND 90;
       INSERT INTO fill_rows (id, owner_id, region, num, loose_id, part_id) SELECT g, 8, 'eu', 5, 3, 999 FROM generate_series(20001, 20010) g;
       DELETE FROM fill_rows WHERE id BETWEEN 91 AND 100;`,
    );
    const cut = await fx.cli('cutover', '--yes');
    expect(cut.code, cut.stderr + cut.stdout).toBe(0);
    const checks = await expectFilled(fx);
    expect(checks.get('owner_label')!.nulls).toBe(5017);
    const [renamed] = await query<{ n: number }>(fx.service('device').url, `SELECT count(*)::int AS n FROM fill_rows WHERE owner_label = 'owner 7 (renamed)'`);
    expect(renamed!.n).toBeGreaterThan(5000);
  });
});
