import type { VerifyRowcountsStep } from '../plan/model.js';
import type { StepContext, StepHandler, StepResult } from '../steps/handler.js';
import { qname } from '../pg/quote.js';
import { parseKey } from '../catalog/model.js';
import { tableSums, type TableSum } from '../retention/table-sums.js';

/** One table's count, on a pooled connection of the run (connections are reused: they cost time inside the window). */
async function countOf(ctx: StepContext, server: string, database: string | undefined, table: string): Promise<number> {
  const r = await ctx.pools.pool(server, database).query<{ n: string }>(`SELECT count(*)::text AS n FROM ONLY ${qname(parseKey(table))}`);
  return Number(r.rows[0]?.n ?? -1);
}

/**
 * verify_rowcounts at cutover: the fenced source's count of each table is the
 * reference (there was no snapshot copy), compared with the target's. The detail has
 * the same shape as the offline step's (`counts` by table), which rollback and
 * schedule_retention read.
 *
 * It runs inside the fence window and stays a full proof: every row of every table is
 * counted on both sides, after catch_up confirmed that the subscriptions applied every
 * change made before the fence, so a row the initial copy or the stream skipped shows
 * as a difference. What keeps it from adding up with the data is that nothing waits on
 * anything else: every table of both sides is counted at once, each on its own pooled
 * connection (the source is fenced and the target has no writer but the stopped
 * stream, so each count is final whenever it runs). The step then lasts about as long
 * as the longest single count, not the sum of them, and the counts of all services run
 * beside each other too. A count costs an index-only or sequential scan of one table:
 * tenfold rows make the largest scan longer, by milliseconds at the sizes a window
 * holds, where the serial sum grew by the whole database's scan time.
 */
export async function verifyLiveRowcounts(ctx: StepContext, step: VerifyRowcountsStep): Promise<StepResult> {
  const [pairs, sums] = await Promise.all([
    Promise.all(
      step.tables.map(async (table) => {
        const [expected, actual] = await Promise.all([countOf(ctx, 'source', undefined, table), countOf(ctx, step.target.server, step.target.database, table)]);
        return { table, expected, actual };
      }),
    ),
    cutoverCopySums(ctx, step),
  ]);
  const counts: Record<string, number> = {};
  const mismatches: string[] = [];
  for (const { table, expected, actual } of pairs) {
    counts[table] = actual;
    if (actual !== expected) mismatches.push(`${table}: source ${expected} rows, target ${actual}`);
  }
  if (mismatches.length > 0) throw new Error(`row counts differ in ${step.target.database}:\n  ${mismatches.join('\n  ')}`);
  return { rows: Object.values(counts).reduce((a, b) => a + b, 0), detail: { counts, against: 'source', ...(sums ?? {}) } };
}

/**
 * The count and checksum of the tables cutover copied (replication cannot carry them,
 * nor reverse replication back), on both sides: the target's (`sums`) is what the copy
 * wrote, the baseline against which `verify` later proves the copy exact once the
 * service has written to them; the source's (`sourceSums`), fenced and final, is what
 * rollback's copy_back compares the source with before it replaces those rows, whatever
 * the target's server version or extra (denormalized) columns. Taken beside the counts,
 * both sides at once; these are the tables the window copies anyway, and hashing one
 * costs less than copying it. Null when there are none.
 */
async function cutoverCopySums(ctx: StepContext, step: VerifyRowcountsStep): Promise<{ sums: Record<string, TableSum>; sourceSums: Record<string, TableSum> } | null> {
  const tables = new Set(step.tables);
  const copied = ctx.plan.steps.flatMap((s) =>
    s.kind === 'copy_data' && s.phase === 'cutover' && s.target.server === step.target.server && s.target.database === step.target.database && s.table && tables.has(s.table) ? [s.table] : [],
  );
  if (copied.length === 0) return null;
  const sumsOn = async (server: string, database?: string) => {
    const client = await ctx.pools.client(server, database);
    try {
      return await tableSums(client, [...new Set(copied)]);
    } finally {
      await client.end();
    }
  };
  const [sums, sourceSums] = await Promise.all([sumsOn(step.target.server, step.target.database), sumsOn('source')]);
  return { sums, sourceSums };
}

/** The verify_rowcounts handler: cutover steps compare with the fenced source, others with the copy's snapshot. */
export function withLiveRowcounts(inner: StepHandler<'verify_rowcounts'>): StepHandler<'verify_rowcounts'> {
  return {
    render: inner.render,
    run: (ctx, step) => (step.phase === 'cutover' ? verifyLiveRowcounts(ctx, step) : inner.run(ctx, step)),
  };
}
