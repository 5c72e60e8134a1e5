import { pipeline } from 'node:stream/promises';
import copyStreams from 'pg-copy-streams';
import type pg from 'pg';
import type { CopyBackStep } from '../plan/model.js';
import type { StepContext, StepHandler } from './handler.js';
import { parseKey } from '../catalog/model.js';
import { ident, qname } from '../pg/quote.js';
import { FENCE_ROWS_TRIGGER, FENCE_TRIGGER } from './fence-source.js';
import { PINNED_SETTINGS } from '../verify/checksum-sql.js';
import { SourceSinceCutover, copiesOf, sourceWrittenError, type SourceChange } from '../rollback/source-since-cutover.js';

/** The comparison of this step's tables with cutover's record of them (from its verify_rowcounts), prepared on `src` outside a transaction. */
async function sinceCutover(ctx: StepContext, step: CopyBackStep, src: pg.Client): Promise<SourceSinceCutover> {
  const done = new Map<string, { detail?: Record<string, unknown> }>();
  for (const s of ctx.plan.steps) {
    if (s.kind !== 'verify_rowcounts' || s.target.server !== step.target.server || s.target.database !== step.target.database) continue;
    const r = await ctx.journal.result(s.id);
    if (r) done.set(s.id, r);
  }
  return SourceSinceCutover.prepare(src, copiesOf(ctx.plan, done, step.target));
}

/**
 * What copy_back runs for one leaf table, in the source's transaction. `rowsFence`: the
 * leaf is a partition carrying the clone of its root's row fence (fences made before
 * row fences existed have none), lifted and put back with the statement fence.
 */
export function copyBackSql(leaf: { table: string; columns: string[]; readAs?: Record<string, string> }, rowsFence = false): { unfence: string; empty: string; copyOut: string; copyIn: string; after: string[] } {
  const t = qname(parseKey(leaf.table));
  const rows = (verb: string) => (rowsFence ? `, ${verb} TRIGGER ${ident(FENCE_ROWS_TRIGGER)}` : '');
  const cols = leaf.columns.map(ident).join(', ');
  // xml columns read as their stored text (xml's output drops a leading declaration).
  const read = leaf.columns.map((c) => leaf.readAs?.[c] ?? ident(c)).join(', ');
  return {
    // Disabling the trigger locks the table (ACCESS EXCLUSIVE) until COMMIT: nothing writes between the check and the DELETE.
    unfence: `ALTER TABLE ${t} DISABLE TRIGGER ${ident(FENCE_TRIGGER)}${rows('DISABLE')}`,
    empty: `DELETE FROM ONLY ${t}`,
    copyOut: `COPY (SELECT ${read} FROM ONLY ${t}) TO STDOUT`,
    copyIn: `COPY ${t} (${cols}) FROM STDIN`,
    after: [`ALTER TABLE ${t} ENABLE ALWAYS TRIGGER ${ident(FENCE_TRIGGER)}${rows('ENABLE ALWAYS')}`],
  };
}

/** Those of `tables` (schema.table) carrying the row fence (a clone of their root's). */
async function rowsFenced(src: pg.Client, tables: string[]): Promise<Set<string>> {
  const r = await src.query<{ t: string }>(
    `SELECT n.nspname || '.' || c.relname AS t FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE g.tgname = $1 AND n.nspname || '.' || c.relname = ANY ($2::text[])`,
    [FENCE_ROWS_TRIGGER, tables],
  );
  return new Set(r.rows.map((x) => x.t));
}

/** The statements as the plan shows them. */
export function copyBackPlanSql(leaves: CopyBackStep['leaves'], database: string): string[] {
  const sql = [
    '-- on the source, one transaction (the target read in one too, both under the same text settings):',
    'BEGIN',
    `SET LOCAL session_replication_role = replica  -- no foreign key or user trigger fires, as in a copy`,
    `SET LOCAL lock_timeout = '60s'`,
    ...PINNED_SETTINGS,
  ];
  for (const l of leaves) {
    const s = copyBackSql(l);
    sql.push(s.unfence, `-- (and ${FENCE_ROWS_TRIGGER}, where ${l.table} is a partition carrying it)`, `-- ${l.table}'s count and checksum compared with the source's at cutover: refused (exit 1) if written since, unless --discard-source-writes names it`, s.empty, `${s.copyIn}  -- fed by ${database}'s: ${s.copyOut}`, ...s.after);
  }
  return [...sql, 'COMMIT'];
}

/**
 * `copy_back` (rollback after cutover, after fence_target): the tables reverse
 * replication cannot carry get their rows from the (fenced) target: in one source
 * transaction, with the source's fence lifted for that transaction only, each leaf is
 * emptied and filled again by COPY from the target. All or nothing: a rerun does the same again.
 * Before a leaf is emptied, with its lock held, its source rows are compared with what
 * they were at cutover (SourceSinceCutover): a write that went around the fence since
 * is refused (exit 1, every such table named, nothing changed), unless the run's
 * `discardSourceWrites` names the table.
 */
export const copyBack: StepHandler<'copy_back'> = {
  render: (step) => step.sql,
  async run(ctx, step: CopyBackStep) {
    const src = await ctx.pools.client('source');
    let dst: pg.Client | undefined;
    let rows = 0;
    const discarded: string[] = [];
    let since: SourceSinceCutover | undefined;
    try {
      dst = await ctx.pools.client(step.target.server, step.target.database);
      since = await sinceCutover(ctx, step, src);
      await src.query('BEGIN READ WRITE');
      await src.query('SET LOCAL session_replication_role = replica');
      await src.query(`SET LOCAL lock_timeout = '60s'`);
      // Text COPY: both ends write and read dates, intervals, floats and money under the same settings, whatever each server's defaults.
      await src.query(PINNED_SETTINGS.join('; '));
      await dst.query(['BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', ...PINNED_SETTINGS].join('; '));
      const changes: SourceChange[] = [];
      const withRows = await rowsFenced(src, step.leaves.map((l) => l.table));
      for (const leaf of step.leaves) {
        await src.query(copyBackSql(leaf, withRows.has(leaf.table)).unfence);
        const what = await since.changed(src, leaf.table);
        if (what === null) continue;
        if (ctx.discardSourceWrites?.has(leaf.table)) discarded.push(leaf.table);
        else changes.push({ table: leaf.table, what });
      }
      if (changes.length > 0) throw sourceWrittenError(ctx.plan.name, ctx.plan.source.database, changes, true);
      for (const leaf of step.leaves) {
        const s = copyBackSql(leaf, withRows.has(leaf.table));
        await src.query(s.empty);
        const into = src.query(copyStreams.from(s.copyIn));
        await pipeline(dst.query(copyStreams.to(s.copyOut)), into);
        rows += Number(into.rowCount ?? 0);
        for (const q of s.after) await src.query(q);
      }
      await dst.query('COMMIT');
      await src.query('COMMIT');
    } catch (err) {
      await src.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      await dst?.end().catch(() => undefined);
      await src.end().catch(() => undefined);
    }
    const compared = step.leaves.map((l) => since?.comparedBy(l.table) ?? 'nothing');
    return {
      rows,
      detail: {
        tables: step.leaves.length,
        // How each table's source was found unchanged since cutover, and which changes the user let it replace.
        compared: Object.fromEntries(step.leaves.map((l, i) => [l.table, compared[i]])),
        ...(discarded.length > 0 ? { discarded } : {}),
      },
    };
  },
};
