import type { VerifyRowcountsStep } from '../plan/model.js';
import type { StepContext, StepHandler, StepResult } from '../steps/handler.js';
import { qname } from '../pg/quote.js';
import { parseKey } from '../catalog/model.js';

/**
 * verify_rowcounts at cutover: the fenced source's count of each table is the
 * reference (there was no snapshot copy), compared with the target's. The detail has
 * the same shape as the offline step's (`counts` by table), which rollback and
 * schedule_retention read.
 */
export async function verifyLiveRowcounts(ctx: StepContext, step: VerifyRowcountsStep): Promise<StepResult> {
  const source = await ctx.pools.client('source');
  const target = await ctx.pools.client(step.target.server, step.target.database).catch(async (err: unknown) => {
    await source.end();
    throw err;
  });
  const counts: Record<string, number> = {};
  const mismatches: string[] = [];
  try {
    for (const table of step.tables) {
      const sql = `SELECT count(*)::text AS n FROM ONLY ${qname(parseKey(table))}`;
      const [s, t] = await Promise.all([source.query<{ n: string }>(sql), target.query<{ n: string }>(sql)]);
      const expected = Number(s.rows[0]?.n ?? -1);
      const actual = Number(t.rows[0]?.n ?? -1);
      counts[table] = actual;
      if (actual !== expected) mismatches.push(`${table}: source ${expected} rows, target ${actual}`);
    }
  } finally {
    await Promise.all([source.end(), target.end()]);
  }
  if (mismatches.length > 0) throw new Error(`row counts differ in ${step.target.database}:\n  ${mismatches.join('\n  ')}`);
  return { rows: Object.values(counts).reduce((a, b) => a + b, 0), detail: { counts, against: 'source' } };
}

/** The verify_rowcounts handler: cutover steps compare with the fenced source, others with the copy's snapshot. */
export function withLiveRowcounts(inner: StepHandler<'verify_rowcounts'>): StepHandler<'verify_rowcounts'> {
  return {
    render: inner.render,
    run: (ctx, step) => (step.phase === 'cutover' ? verifyLiveRowcounts(ctx, step) : inner.run(ctx, step)),
  };
}
