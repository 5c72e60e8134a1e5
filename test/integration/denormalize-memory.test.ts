import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { query } from '../harness/servers.js';
import type { CopyDataStep } from '../../src/plan/model.js';
import { LOOKUP_WORK_MEM_MAX_KB, raiseWorkMemSql } from '../../src/steps/denormalize-lookup.js';
import { keepServices, splitFixture, type SplitFixture } from './helpers/split-fixture.js';

const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

/**
 * A referenced table of 200,000 rows, a fifth of the referencing one's: joined plainly, its
 * hash (about 13 MB) does not fit the server's default work_mem (4 MB, twice that for a hash),
 * so PostgreSQL builds it in several batches and writes every referencing row whose key falls
 * in a later batch to a temporary file and reads it again: the copy of a table with a nullable
 * foreign key cost twice a plain copy at scale 3 of the benchmark. A quarter of the keys NULL.
 */
const SCHEMA = `
CREATE TABLE mem_ref (id bigint PRIMARY KEY, serial text NOT NULL);
INSERT INTO mem_ref SELECT g, 'SN-' || lpad(g::text, 12, '0') FROM generate_series(1, 200000) g;
CREATE TABLE mem_rows (id bigint PRIMARY KEY, ref_id bigint REFERENCES mem_ref, pad text NOT NULL);
INSERT INTO mem_rows SELECT g, CASE WHEN g % 4 = 0 THEN NULL ELSE g % 200000 + 1 END, repeat('x', 40) FROM generate_series(1, 1000000) g;
ANALYZE mem_ref; ANALYZE mem_rows;
`;

interface PlanNode {
  'Node Type': string;
  'Hash Batches'?: number;
  Plans?: PlanNode[];
}
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

/** The batches of every Hash node of the copy's query, as the server runs it after `settings`. */
async function hashBatches(url: string, copyOut: string, settings: string[]): Promise<number[]> {
  const select = /^COPY \((SELECT .*)\) TO STDOUT/s.exec(copyOut)![1]!;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('SET max_parallel_workers_per_gather = 0');
    for (const s of settings) await c.query(s);
    const r = await c.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ${select}`);
    return nodes(r.rows[0]!['QUERY PLAN'][0]!.Plan).filter((n) => n['Node Type'] === 'Hash').map((n) => n['Hash Batches']!);
  } finally {
    await c.end();
  }
}

describe('a denormalized fill joined on a referenced table larger than work_mem', () => {
  it('gets the work_mem its hash needs in one batch, raised on the source session for the copy only', async () => {
    const fx = await splitFixture({
      scale: 0.02,
      edit: (doc) => {
        keepServices(doc, ['user-service', 'device-service']);
        const services = doc.services as Record<string, { tables: string[]; denormalize?: unknown[] }>;
        services['user-service']!.tables.push('mem_ref');
        services['device-service']!.tables.push('mem_rows');
        services['device-service']!.denormalize = [{ table: 'mem_rows', column: 'ref_serial', from: 'mem_ref.serial' }];
      },
    });
    fixtures.push(fx);
    await query(fx.sourceUrl, SCHEMA);
    const plan = await fx.plan();
    const copy = plan.steps.find((s): s is CopyDataStep => s.kind === 'copy_data' && s.table === 'public.mem_rows')!;
    expect(copy.copyOut).toContain('LEFT JOIN ONLY "public"."mem_ref"');
    // More than the default gives a hash (4 MB × 2), bounded.
    expect(copy.lookupWorkMemKb).toBeGreaterThan(8 * 1024);
    expect(copy.lookupWorkMemKb).toBeLessThanOrEqual(LOOKUP_WORK_MEM_MAX_KB);
    // PostgreSQL's default spills (the case this guards against); the planned floor does not.
    const byDefault = "SET work_mem = '4MB'";
    expect(Math.max(...(await hashBatches(fx.sourceUrl, copy.copyOut, [byDefault])))).toBeGreaterThan(1);
    expect(await hashBatches(fx.sourceUrl, copy.copyOut, [byDefault, raiseWorkMemSql(copy.lookupWorkMemKb!, false)])).toEqual([1]);
    // A server configured with more keeps its setting.
    const c = new pg.Client({ connectionString: fx.sourceUrl });
    await c.connect();
    try {
      await c.query(`SET work_mem = '1GB'`);
      expect((await c.query<{ set_config: string }>(raiseWorkMemSql(copy.lookupWorkMemKb!, false))).rows).toEqual([{ set_config: '1GB' }]);
    } finally {
      await c.end();
    }

    const applied = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    // The copy ran with the planned floor (the journal says so), and its rows are the join's.
    const [done] = await query<{ w: string | null }>(fx.controlUrl, `SELECT s.detail->>'workMem' AS w FROM cloudphone_split.steps s WHERE s.step_id = $1 AND s.state = 'done'`, [copy.id]);
    expect(done!.w, 'the copy step recorded the work_mem it ran with').not.toBeNull();
    expect(await query(fx.sourceUrl, `SELECT (pg_size_bytes($1) / 1024)::int AS kb`, [done!.w])).toEqual([{ kb: copy.lookupWorkMemKb }]);
    const device = fx.service('device').url;
    expect(
      await query(device, `SELECT count(*)::int AS n, count(ref_serial)::int AS filled, count(*) FILTER (WHERE ref_id IS NULL AND ref_serial IS NULL)::int AS null_keys FROM mem_rows`),
    ).toEqual([{ n: 1000000, filled: 750000, null_keys: 250000 }]);
    expect(await query(device, `SELECT count(*)::int AS wrong FROM mem_rows WHERE ref_serial IS DISTINCT FROM CASE WHEN ref_id IS NULL THEN NULL ELSE 'SN-' || lpad(ref_id::text, 12, '0') END`)).toEqual([{ wrong: 0 }]);
    const v = await fx.cli('verify', '--checksums');
    expect(v.code, v.stdout).toBe(0);
  }, 300_000);
});
