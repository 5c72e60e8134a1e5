import { parseKey, type QualifiedName } from '../catalog/model.js';
import type { Plan, TargetRef } from '../plan/model.js';
import { literal, qname } from '../pg/quote.js';
import { errorText, unverifiedBy, mapLimit, type Check, type VerifyContext } from './check.js';
import { copiedTables } from './plan-tables.js';
import { leavesWrittenSinceCutover } from './cutover-copies.js';

/** A partitioned table of the split: the plan lists it, but copies only its leaves. */
export interface PartitionedRoot {
  service: string;
  /** `schema.name`, as in the plan. */
  table: string;
  source: QualifiedName;
  target: TargetRef;
  /** The leaves the plan copied into this database (`schema.name`; absent: not known). */
  planned?: ReadonlySet<string>;
}

/**
 * The partitioned tables of the split: every owned or copied table of a service that
 * has no copy of its own (the plan copies leaves only, so a table without a copy step
 * is a partitioned parent).
 */
export function partitionedRoots(plan: Plan): PartitionedRoot[] {
  const leaves = new Set(copiedTables(plan).map((c) => `${c.target.database}\u0000${c.table}`));
  const out: PartitionedRoot[] = [];
  for (const s of plan.services) {
    const target: TargetRef = { service: s.name, server: s.server, database: s.database };
    for (const t of [...s.tables, ...s.copies]) {
      if (leaves.has(`${s.database}\u0000${t.name}`)) continue;
      const planned = new Set([...leaves].filter((l) => l.startsWith(`${s.database}\u0000`)).map((l) => l.slice(s.database.length + 1)));
      out.push({ service: s.name, table: t.name, source: parseKey(t.name), target, planned });
    }
  }
  return out;
}

/**
 * Rows per leaf partition, read through the partitioned table itself: every partition
 * it has on that side counts, whatever the plan lists and whatever schema it lives in.
 */
export function rowsThroughParentSql(root: QualifiedName): string {
  const t = qname(root);
  return `SELECT pn.nspname::text AS schema, pc.relname::text AS name, coalesce(r.n, 0)::text AS n
    FROM pg_partition_tree(${literal(t)}::regclass) p
    JOIN pg_class pc ON pc.oid = p.relid
    JOIN pg_namespace pn ON pn.oid = pc.relnamespace
    LEFT JOIN (SELECT s.tableoid AS relid, count(*) AS n FROM ${t} AS s GROUP BY s.tableoid) r ON r.relid = p.relid
    WHERE p.isleaf`;
}

/** Leaf `schema.name` → rows. */
export type LeafCounts = Map<string, number>;

/** The check of one partitioned table from both sides' per-leaf counts: totals first, then each leaf that differs. */
export function partitionRowcountCheck(root: PartitionedRoot, source: LeafCounts, target: LeafCounts): Check {
  const sum = (m: LeafCounts) => [...m.values()].reduce((a, b) => a + b, 0);
  const [s, t] = [sum(source), sum(target)];
  const leaves = [...new Set([...source.keys(), ...target.keys()])].sort();
  const diffs: string[] = [];
  for (const leaf of leaves) {
    const a = source.get(leaf);
    const b = target.get(leaf);
    if (a === b) continue;
    if (b === undefined && root.planned !== undefined && !root.planned.has(leaf)) {
      // Not in the plan: the source gained it after the plan was made (a job creating tomorrow's partition), so none of its rows were copied.
      diffs.push(`partition ${leaf} (${a} rows in the source) was created or attached in the source after the plan was made: it was never copied to ${root.target.database}`);
    } else if (b === undefined) diffs.push(`partition ${leaf} (${a} rows in the source) is not a partition of ${root.table} in ${root.target.database}: dropped or detached there`);
    else if (a === undefined) diffs.push(`partition ${leaf} (${b} rows) of ${root.table} in ${root.target.database} is not one in the source`);
    else diffs.push(`partition ${leaf}: source ${a}, target ${b} rows`);
  }
  const base = { kind: 'rowcount' as const, service: root.service, table: root.table, source: s, target: t };
  if (diffs.length === 0) return { ...base, ok: true, detail: `${s} rows through partitioned table ${root.table} on both sides (${leaves.length} partitions)` };
  const diff = t - s;
  const total = s === t ? `same total (${s})` : `source ${s}, target ${t} (${Math.abs(diff)} ${diff < 0 ? 'missing in' : 'extra in'} ${root.target.database})`;
  return { ...base, ok: false, detail: `rows through partitioned table ${root.table} differ: ${total}; ${diffs.join('; ')}` };
}

async function leafCounts(ctx: VerifyContext, server: string, database: string | undefined, root: QualifiedName): Promise<LeafCounts> {
  const pool = database === undefined ? ctx.pools.pool(server) : ctx.pools.pool(server, database);
  const r = await pool.query<{ schema: string; name: string; n: string }>(rowsThroughParentSql(root));
  return new Map(r.rows.map((x) => [`${x.schema}.${x.name}`, Number(x.n)]));
}

/** Source vs target rows of every partitioned table, counted through the table on both sides. */
export async function partitionRowcountChecks(ctx: VerifyContext): Promise<Check[]> {
  return mapLimit(partitionedRoots(ctx.plan), ctx.jobs, async (root): Promise<Check> => {
    try {
      const [source, target] = await Promise.all([
        leafCounts(ctx, 'source', undefined, root.source),
        leafCounts(ctx, root.target.server, root.target.database, root.source),
      ]);
      ctx.progress(`rowcount ${root.table} (partitioned)`);
      const written = leavesWrittenSinceCutover(ctx, root.target, source, target);
      if (written.size === 0) return partitionRowcountCheck(root, source, target);
      // Those leaves are compared as the cutover copied them; every other leaf as it is.
      const check = partitionRowcountCheck(root, source, new Map([...target].map(([leaf, n]) => [leaf, written.has(leaf) ? source.get(leaf)! : n])));
      const total = [...target.values()].reduce((a, b) => a + b, 0);
      return {
        ...check,
        target: total,
        detail: `${check.detail}; ${[...written].sort().join(', ')} written by the service since cutover (target ${total} rows now): cutover copied ${written.size === 1 ? 'it' : 'them'} after the fence and reverse replication does not carry ${written.size === 1 ? 'it' : 'them'}, so the source keeps the cutover copy`,
      };
    } catch (err) {
      return { kind: 'rowcount', service: root.service, table: root.table, ok: false, detail: `cannot count rows through partitioned table ${root.table}: ${errorText(err)}`, ...unverifiedBy(err) };
    }
  });
}
