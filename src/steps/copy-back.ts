import { pipeline } from 'node:stream/promises';
import copyStreams from 'pg-copy-streams';
import type pg from 'pg';
import type { CopyBackStep } from '../plan/model.js';
import type { StepHandler } from './handler.js';
import { parseKey } from '../catalog/model.js';
import { ident, qname } from '../pg/quote.js';
import { FENCE_TRIGGER } from './fence-source.js';

/** What copy_back runs for one leaf table, in the source's transaction. */
export function copyBackSql(leaf: { table: string; columns: string[]; readAs?: Record<string, string> }): { source: string[]; copyOut: string; copyIn: string; after: string[] } {
  const t = qname(parseKey(leaf.table));
  const cols = leaf.columns.map(ident).join(', ');
  // xml columns read as their stored text (xml's output drops a leading declaration).
  const read = leaf.columns.map((c) => leaf.readAs?.[c] ?? ident(c)).join(', ');
  return {
    source: [`ALTER TABLE ${t} DISABLE TRIGGER ${ident(FENCE_TRIGGER)}`, `DELETE FROM ONLY ${t}`],
    copyOut: `COPY (SELECT ${read} FROM ONLY ${t}) TO STDOUT`,
    copyIn: `COPY ${t} (${cols}) FROM STDIN`,
    after: [`ALTER TABLE ${t} ENABLE ALWAYS TRIGGER ${ident(FENCE_TRIGGER)}`],
  };
}

/** The statements as the plan shows them. */
export function copyBackPlanSql(leaves: CopyBackStep['leaves'], database: string): string[] {
  const sql = ['-- on the source, one transaction:', 'BEGIN', `SET LOCAL session_replication_role = replica  -- no foreign key or user trigger fires, as in a copy`, `SET LOCAL lock_timeout = '60s'`];
  for (const l of leaves) {
    const s = copyBackSql(l);
    sql.push(...s.source, `${s.copyIn}  -- fed by ${database}'s: ${s.copyOut}`, ...s.after);
  }
  return [...sql, 'COMMIT'];
}

/**
 * `copy_back` (rollback after cutover, after fence_target): the tables reverse
 * replication cannot carry get their rows from the (fenced) target: in one source
 * transaction, with the source's fence lifted for that transaction only, each leaf is
 * emptied and filled again by COPY from the target. All or nothing: a rerun does the same again.
 */
export const copyBack: StepHandler<'copy_back'> = {
  render: (step) => step.sql,
  async run(ctx, step: CopyBackStep) {
    const src = await ctx.pools.client('source');
    let dst: pg.Client | undefined;
    let rows = 0;
    try {
      dst = await ctx.pools.client(step.target.server, step.target.database);
      await src.query('BEGIN READ WRITE');
      await src.query('SET LOCAL session_replication_role = replica');
      await src.query(`SET LOCAL lock_timeout = '60s'`);
      for (const leaf of step.leaves) {
        const s = copyBackSql(leaf);
        for (const q of s.source) await src.query(q);
        const into = src.query(copyStreams.from(s.copyIn));
        await pipeline(dst.query(copyStreams.to(s.copyOut)), into);
        rows += Number(into.rowCount ?? 0);
        for (const q of s.after) await src.query(q);
      }
      await src.query('COMMIT');
    } catch (err) {
      await src.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      await dst?.end().catch(() => undefined);
      await src.end().catch(() => undefined);
    }
    return { rows, detail: { tables: step.leaves.length } };
  },
};
