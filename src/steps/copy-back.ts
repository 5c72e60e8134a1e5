import { pipeline } from 'node:stream/promises';
import copyStreams from 'pg-copy-streams';
import type pg from 'pg';
import type { CopyBackStep } from '../plan/model.js';
import type { StepContext, StepHandler } from './handler.js';
import { parseKey } from '../catalog/model.js';
import { ident, qname } from '../pg/quote.js';
import { PlanBlockedError } from '../errors.js';
import { FENCE_ROWS_TRIGGER, FENCE_TRIGGER } from './fence-source.js';
import { PINNED_SETTINGS } from '../verify/checksum-sql.js';
import { SourceSinceCutover, copiesOf, sourceWrittenError, type SourceChange } from '../rollback/source-since-cutover.js';
import { newPartitionsError, partitionsSinceCutover } from '../rollback/target-partitions.js';

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
 * What copy_back runs for one leaf table, in the source's transaction. `fences`: the fence
 * triggers the leaf carries, lifted for the transaction and put back (the statement fence;
 * on a partition, the clone of its root's row fence too, which fences made before row
 * fences existed lack; a partition made since cutover has only that clone).
 */
export function copyBackSql(leaf: { table: string; columns: string[]; readAs?: Record<string, string> }, fences: readonly string[] = [FENCE_TRIGGER]): { unfence: string; empty: string; copyOut: string; copyIn: string; after: string[] } {
  const t = qname(parseKey(leaf.table));
  const cols = leaf.columns.map(ident).join(', ');
  // xml columns read as their stored text (xml's output drops a leading declaration).
  const read = leaf.columns.map((c) => leaf.readAs?.[c] ?? ident(c)).join(', ');
  return {
    // Disabling a trigger locks the table (ACCESS EXCLUSIVE) until COMMIT: nothing writes between the check and the DELETE.
    unfence: fences.length > 0 ? `ALTER TABLE ${t} ${fences.map((f) => `DISABLE TRIGGER ${ident(f)}`).join(', ')}` : `LOCK TABLE ONLY ${t} IN ACCESS EXCLUSIVE MODE`,
    empty: `DELETE FROM ONLY ${t}`,
    copyOut: `COPY (SELECT ${read} FROM ONLY ${t}) TO STDOUT`,
    copyIn: `COPY ${t} (${cols}) FROM STDIN`,
    after: fences.length > 0 ? [`ALTER TABLE ${t} ${fences.map((f) => `ENABLE ALWAYS TRIGGER ${ident(f)}`).join(', ')}`] : [],
  };
}

/** DO INSTEAD rules on DELETE that a replica session still meets (enabled REPLICA or ALWAYS) on `tables`, each named with its table. */
async function deleteRules(src: pg.Client, tables: string[]): Promise<string[]> {
  const r = await src.query<{ t: string; r: string; e: string }>(
    `SELECT n.nspname || '.' || c.relname AS t, w.rulename AS r, w.ev_enabled::text AS e
       FROM pg_catalog.pg_rewrite w JOIN pg_catalog.pg_class c ON c.oid = w.ev_class JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE w.ev_type = '4' AND w.is_instead AND w.ev_enabled IN ('R', 'A') AND n.nspname || '.' || c.relname = ANY ($1::text[]) ORDER BY 1, 2`,
    [tables],
  );
  return r.rows.map((x) => `rule ${x.r} on ${x.t} (DO INSTEAD on DELETE, enabled ${x.e === 'A' ? 'ALWAYS' : 'REPLICA'})`);
}

/** The fence triggers each of `tables` (schema.table) carries in the source, statement fence first. */
async function fencesOf(src: pg.Client, tables: string[]): Promise<Map<string, string[]>> {
  const r = await src.query<{ t: string; g: string }>(
    `SELECT n.nspname || '.' || c.relname AS t, g.tgname AS g FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE g.tgname IN ($1, $2) AND n.nspname || '.' || c.relname = ANY ($3::text[]) ORDER BY 1, g.tgname = $2`,
    [FENCE_TRIGGER, FENCE_ROWS_TRIGGER, tables],
  );
  const out = new Map<string, string[]>(tables.map((t) => [t, []]));
  for (const row of r.rows) out.get(row.t)?.push(row.g);
  return out;
}

/**
 * The leaves copy_back copies: the step's, and the partitions of their trees made since
 * cutover in the new database and (by hand, as the refusal below asks) in the source too.
 * A partition made in the new database since, holding rows, that the source lacks refuses
 * (exit 1): its rows would stay behind.
 */
async function leavesToCopy(ctx: StepContext, step: CopyBackStep, src: pg.Client, dst: pg.Client): Promise<{ leaves: CopyBackStep['leaves']; made: string[] }> {
  const r = await src.query<{ t: string; root: string }>(
    `SELECT l AS t, n.nspname || '.' || c.relname AS root
       FROM unnest($1::text[], $2::text[]) AS x(l, quoted)
       JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.pg_partition_root(to_regclass(x.quoted)) JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace`,
    [step.leaves.map((l) => l.table), step.leaves.map((l) => qname(parseKey(l.table)))],
  );
  const rootOf = new Map(r.rows.filter((x) => x.root !== x.t).map((x) => [x.t, x.root]));
  const roots = [...new Set(rootOf.values())];
  const since = await partitionsSinceCutover(src, dst, step.target.database, roots, new Set(step.leaves.map((l) => l.table)));
  if (since.missing.length > 0) throw newPartitionsError(ctx.plan.name, ctx.plan.source.database, since.missing, true);
  const sibling = new Map([...rootOf].map(([leaf, root]) => [root, step.leaves.find((l) => l.table === leaf)!]));
  const made = since.inBoth.flatMap((m) => {
    const like = sibling.get(m.root);
    return like ? [{ ...like, table: m.leaf }] : [];
  });
  return { leaves: [...step.leaves, ...made], made: made.map((m) => m.table) };
}

/** Rows in the source of a partition made there since cutover (nothing recorded them): what differs, or null when empty. */
async function rowsInMade(src: pg.Client, table: string): Promise<string | null> {
  const r = await src.query<{ n: string }>(`SELECT count(*)::text AS n FROM ONLY ${qname(parseKey(table))}`);
  const n = Number(r.rows[0]?.n ?? 0);
  return n === 0 ? null : `${n} ${n === 1 ? 'row' : 'rows'} in a partition made since cutover`;
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
    sql.push(s.unfence, `-- (and ${FENCE_ROWS_TRIGGER}, where ${l.table} is a partition carrying it; partitions made since cutover in both databases are copied too)`, `-- ${l.table}'s count and checksum compared with the source's at cutover: refused (exit 1) if written since, unless --discard-source-writes names it`, s.empty, `${s.copyIn}  -- fed by ${database}'s: ${s.copyOut}`, ...s.after);
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
    let copied: string[] = [];
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
      const { leaves, made } = await leavesToCopy(ctx, step, src, dst);
      copied = made;
      const fences = await fencesOf(src, leaves.map((l) => l.table));
      for (const leaf of leaves) {
        await src.query(copyBackSql(leaf, fences.get(leaf.table)).unfence);
        // A partition made since cutover has no cutover record: it must be empty in the source.
        const what = made.includes(leaf.table) ? await rowsInMade(src, leaf.table) : await since.changed(src, leaf.table);
        if (what === null) continue;
        if (ctx.discardSourceWrites?.has(leaf.table)) discarded.push(leaf.table);
        else changes.push({ table: leaf.table, what });
      }
      if (changes.length > 0) throw sourceWrittenError(ctx.plan.name, ctx.plan.source.database, changes, true);
      const rewritten = await deleteRules(src, leaves.map((l) => l.table));
      if (rewritten.length > 0) {
        throw new PlanBlockedError(
          `${rewritten.join('; ')}: the copy back empties each table with a DELETE, which such a rule rewrites even in its replica session, so the old rows would stay beside the new ones; nothing was changed`,
          'make it an ordinary rule for the rollback (ALTER TABLE … ENABLE RULE …: a replica session does not meet it), then run rollback again',
        );
      }
      for (const leaf of leaves) {
        const s = copyBackSql(leaf, fences.get(leaf.table));
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
        // Partitions made since cutover in the new database and in the source, copied too.
        ...(copied.length > 0 ? { made: copied } : {}),
        // How each table's source was found unchanged since cutover, and which changes the user let it replace.
        compared: Object.fromEntries(step.leaves.map((l, i) => [l.table, compared[i]])),
        ...(discarded.length > 0 ? { discarded } : {}),
      },
    };
  },
};
