import { readObjectSignature } from '../rollback/object-signature.js';
import type { Plan, VerifyRowcountsStep } from '../plan/model.js';
import type { StepContext, StepHandler } from './handler.js';
import { qname } from '../pg/quote.js';
import { parseKey } from '../catalog/model.js';
import { copiedSourceRows } from './copy-data.js';
import { tableSums, type TableSum } from '../retention/table-sums.js';

export function verifyRowcountsSql(tables: string[]): string[] {
  return tables.map(
    (t) =>
      `SELECT count(*), sum(hash_record_extended(ROW(t.*), 0)) FROM ONLY ${qname(parseKey(t))} AS t  -- count equals the rows read from the snapshot; the sum is rollback's baseline (columns without a hash are cast to text; before PostgreSQL 14 hashtextextended(t::text, 0))`,
  );
}

/**
 * Offline plans only: there nothing writes to the fenced source tables after the copy.
 * Online ones may replicate the services' writes back into them until the split is
 * completed, so `schedule_retention` reads them itself.
 */
export function sourceSumsAtVerify(plan: Pick<Plan, 'mode'>): boolean {
  return plan.mode === 'offline';
}

/**
 * Count and checksum, in the source, of the tables among `tables` that
 * `schedule_retention` keeps there as fenced backups (a split without `source.retire`).
 * Taken here, beside the target's scan, rather than one after the other at the end:
 * the source tables are fenced before any copy, so their rows no longer change, and a
 * write after this baseline is what `retention prune` refuses on.
 */
async function keptSourceSums(ctx: StepContext, tables: readonly string[]): Promise<Record<string, TableSum>> {
  if (!sourceSumsAtVerify(ctx.plan)) return {};
  const kept = new Set(ctx.plan.steps.flatMap((s) => (s.kind === 'schedule_retention' && !s.retire ? s.tables : [])));
  const mine = tables.filter((t) => kept.has(t));
  if (mine.length === 0) return {};
  const client = await ctx.pools.client('source');
  try {
    return await tableSums(client, mine, undefined, { emptyBySize: true });
  } finally {
    await client.end();
  }
}

/**
 * Compares each table's count in the target with the rows the copy read from
 * the source snapshot (recorded in the journal by its copy_data step).
 */
export const verifyRowcounts: StepHandler<'verify_rowcounts'> = {
  render: (step) => step.sql,
  async run(ctx, step: VerifyRowcountsStep) {
    const client = await ctx.pools.client(step.target.server, step.target.database);
    const mismatches: string[] = [];
    const counts: Record<string, number> = {};
    let sums: Record<string, TableSum>;
    let sourceSums: Record<string, TableSum> = {};
    let objects: string[];
    try {
      // One scan per table gives the count and the checksum rollback later compares with;
      // beside it, on the source, the sums schedule_retention records for the tables it keeps there.
      // Nothing writes to the target yet, nor to the fenced source: an empty table is known by its size.
      [sums, sourceSums] = await Promise.all([tableSums(client, step.tables, undefined, { emptyBySize: true }), keptSourceSums(ctx, step.tables)]);
      // What the database holds besides rows (sequences' positions, views, functions, types): rollback's baseline too.
      objects = await readObjectSignature(client);
      // The journal is read once for all tables, not once per table.
      const done = await ctx.journal.results?.();
      for (const table of step.tables) {
        const expected = (await copiedSourceRows(ctx, step.target.database, table, done)) ?? NaN;
        const actual = sums[table]?.rows ?? -1;
        counts[table] = actual;
        if (!Number.isNaN(expected) && actual !== expected) mismatches.push(`${table}: source snapshot ${expected} rows, target ${actual}`);
      }
    } finally {
      await client.end();
    }
    if (mismatches.length > 0) throw new Error(`row counts differ in ${step.target.database}:\n  ${mismatches.join('\n  ')}`);
    return { rows: Object.values(counts).reduce((a, b) => a + b, 0), detail: { counts, sums, sourceSums, objects } };
  },
};
