import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import type { CopyDataStep } from '../plan/model.js';
import type { StepContext, StepHandler, StepResult } from './handler.js';
import { PINNED_SETTINGS } from '../verify/checksum-sql.js';
import { ident, qname } from '../pg/quote.js';
import { isMarked } from './marker.js';
import { sessionCache, TARGET_SESSION_SETTINGS } from './session-cache.js';
import { connectionLoss, describeEnd } from '../pg/connection-loss.js';
import { CopyIn, CopyOut } from '../pg/copy-relay.js';
import { serverCopiedRows, serverCopyOf } from '../server-copy/source-rows.js';
import { raiseWorkMemSql } from './denormalize-lookup.js';

/** Target session settings for bulk loads (pgcopydb's dstSettings). */
export const COPY_SESSION_SETTINGS: readonly string[] = TARGET_SESSION_SETTINGS;

/** SQLSTATEs that mean "binary COPY cannot carry this table": retry it in text. */
const BINARY_FALLBACK_CODES = new Set(['22P03', '42883', '0A000', '22P02']);

export interface CopySql {
  copyOut: string;
  copyIn: string;
  /** What runs on the target, in one transaction, before the COPY. */
  before: string[];
}

/** Builds the source query and the target COPY for one table (or one range of it). */
export function copySql(opts: {
  source: { schema: string; name: string };
  columns: string[];
  /** Denormalized columns: target name, and the source expression that reads it (a lookup's column). */
  extra: Array<{ name: string; expression: string }>;
  /** FROM items after the table `s`: the lookups of denormalize-lookup.ts. */
  joins: string[];
  binary: boolean;
  freeze: boolean;
  /** A key range (on alias `s`) of a split table, or null for the whole table. */
  where: string | null;
  /**
   * Empty the target table first: TRUNCATE ONLY, which also lets FREEZE apply, or,
   * without `freeze`, DELETE FROM ONLY (a small table: a TRUNCATE costs a new file per
   * relation and a scan of the shared buffers, far more than deleting a few rows).
   * Default: when copying the whole table. The first range of a split table
   * truncates; the others do not (they wait for it, see build.ts).
   */
  truncate?: boolean;
  /** Columns read through an expression on alias `s` instead of as they are (xml as text). */
  readAs?: Readonly<Record<string, string>>;
}): CopySql {
  const t = qname(opts.source);
  const format = opts.binary ? 'FORMAT binary' : 'FORMAT text';
  const targetCols = [...opts.columns, ...opts.extra.map((e) => e.name)].map(ident).join(', ');
  // A table without columns (CREATE TABLE t ()) still has rows: COPY takes no column list then, `()` is a syntax error.
  const list = (cols: string) => (cols === '' ? '' : ` (${cols})`);
  let copyOut: string;
  const readAs = opts.readAs ?? {};
  if (opts.extra.length === 0 && !opts.where && Object.keys(readAs).length === 0) {
    copyOut = `COPY ${t}${list(opts.columns.map(ident).join(', '))} TO STDOUT (${format})`;
  } else {
    const cols = [...opts.columns.map((c) => readAs[c] ?? `s.${ident(c)}`), ...opts.extra.map((e) => e.expression)];
    const where = opts.where ? ` WHERE ${opts.where}` : '';
    copyOut = `COPY (SELECT ${cols.join(', ')} FROM ONLY ${t} AS s${opts.joins.map((j) => ` ${j}`).join('')}${where}) TO STDOUT (${format})`;
  }
  const truncate = opts.truncate ?? !opts.where;
  const before = truncate ? [opts.freeze ? `TRUNCATE ONLY ${t}` : `DELETE FROM ONLY ${t}`] : [];
  const copyIn = `COPY ${t}${list(targetCols)} FROM STDIN (${format}${opts.freeze && truncate ? ', FREEZE' : ''})`;
  return { copyOut, copyIn, before };
}

/**
 * The key of a range copy in the target's marker table: the step id and a hash of
 * its SQL, so that a range committed by a run of another plan with other bounds
 * never counts as done.
 */
export function rangeMarkerKey(step: Pick<CopyDataStep, 'id' | 'copyOut' | 'copyIn'>): string {
  const hash = createHash('sha256').update(`${step.copyOut}\n${step.copyIn}`).digest('hex').slice(0, 16);
  return `${step.id}@${hash}`;
}

/**
 * The transaction of a copy step: BEGIN, the statements before the COPY (TRUNCATE),
 * the COPY, the statements after it (a range's marker insert), COMMIT.
 */
export function copyTransaction(before: string[], copyIn: string, after: string[]): string[] {
  return ['BEGIN', ...before, copyIn, ...after, 'COMMIT'];
}

export function around(step: CopyDataStep): { before: string[]; after: string[] } {
  const at = step.sql.indexOf(step.copyIn);
  if (at < 1) return { before: step.sql.slice(1, -2), after: [] };
  return { before: step.sql.slice(1, at), after: step.sql.slice(at + 1, -1) };
}

function toText(sql: string): string {
  return sql.replace('(FORMAT binary', '(FORMAT text');
}

async function copyOnce(ctx: StepContext, step: CopyDataStep, binary: boolean): Promise<StepResult> {
  const copyOut = binary ? step.copyOut : toText(step.copyOut);
  const copyIn = binary ? step.copyIn : toText(step.copyIn);
  const snapshot = await ctx.snapshot();
  const sessions = sessionCache(ctx.pools);
  const { server, database } = step.target;
  let src: pg.Client | undefined;
  let dst: pg.Client | undefined;
  let clean = false;
  const sourceEnd = describeEnd(ctx.pools, 'source', ctx.plan.source.database);
  const targetEnd = describeEnd(ctx.pools, server, database);
  /** The end whose connection failed first, to name it in the error. */
  let broken = targetEnd;
  const doing = `copying ${step.table ?? step.id}`;
  try {
    // Sessions of earlier steps are reused: a small table costs no connection and no snapshot import.
    broken = sourceEnd;
    src = await sessions.source(snapshot);
    broken = targetEnd;
    dst = await sessions.target(server, database);
    const { before, after } = around(step);
    const workMem = await lookupMemory(src, step);
    await dst.query('BEGIN');
    if (!binary) {
      // Text COPY: both ends under the same text settings (dates, intervals, floats, money), whatever each server's defaults
      // (the source session's for the rest of its snapshot transaction, where binary copies ignore them).
      await src.query(PINNED_SETTINGS.join('; '));
      await dst.query(PINNED_SETTINGS.join('; '));
    }
    // Statements between BEGIN and the COPY: the TRUNCATE (not for a range after the first).
    for (const s of before) await dst.query(s);
    const out = src.query(new CopyOut(copyOut));
    const inp = dst.query(new CopyIn(copyIn, { recycle: (b) => out.recycle(b), waits: out.waits }));
    let first: string | undefined;
    out.once('error', () => (first ??= sourceEnd));
    inp.once('error', () => (first ??= targetEnd));
    const timer = setInterval(() => {
      ctx.progress.emit({
        type: 'step-progress',
        stepId: step.id,
        rows: out.messages,
        bytes: out.bytes,
        rowsEstimate: step.rowsEstimate,
        bytesEstimate: step.bytes,
      });
    }, 250);
    const abort = () => out.destroy(new Error('the copy was stopped (Ctrl-C or SIGTERM); the rerun copies the table again'));
    ctx.signal.addEventListener('abort', abort, { once: true });
    const piped = performance.now();
    try {
      await pipeline(out, inp);
    } catch (err) {
      broken = first ?? broken;
      throw err;
    } finally {
      clearInterval(timer);
      ctx.signal.removeEventListener('abort', abort);
    }
    const sourceRows = out.rowCount;
    const rows = inp.rowCount;
    if (rows !== sourceRows) {
      throw new Error(`read ${sourceRows} rows from the source but the target stored ${rows}`);
    }
    // A range's marker commits with its rows: a rerun finds it and skips the range.
    const pipeMs = performance.now() - piped;
    await lookupMemoryBack(src, step);
    for (const s of after) await dst.query(s);
    const committing = performance.now();
    await dst.query('COMMIT');
    clean = true;
    ctx.progress.emit({ type: 'step-progress', stepId: step.id, rows, bytes: out.bytes, rowsEstimate: step.rowsEstimate, bytesEstimate: step.bytes });
    // Where the copy's time went: the pipe waiting on the source, waiting on the target, and the commit.
    const timing = { pipeMs: Math.round(pipeMs), sourceWaitMs: Math.round(out.sourceWaitMs), targetWaitMs: Math.round(inp.targetWaitMs), commitMs: Math.round(performance.now() - committing) };
    return { rows, bytes: out.bytes, detail: { sourceRows, binary, snapshot, timing, ...(workMem ? { workMem } : {}) } };
  } catch (err) {
    // A failed COPY aborts its transaction: nothing of it stays in the target.
    await dst?.query('ROLLBACK').catch(() => undefined);
    throw connectionLoss(err, broken, doing);
  } finally {
    // Only sessions in a known state go back: the source still in its snapshot, the target outside any transaction.
    if (clean && src && dst) {
      sessions.releaseSource(snapshot, src);
      sessions.releaseTarget(server, database, dst);
    } else {
      await src?.end().catch(() => undefined);
      await dst?.end().catch(() => undefined);
    }
  }
}

/**
 * Raises the source session's work_mem for the copy's hashed lookups (`lookupWorkMemKb`),
 * until lookupMemoryBack; the setting the copy then runs with (null: not changed).
 */
export async function lookupMemory(src: pg.Client, step: Pick<CopyDataStep, 'lookupWorkMemKb'>): Promise<string | null> {
  if (!step.lookupWorkMemKb) return null;
  const r = await src.query<{ set_config: string }>(raiseWorkMemSql(step.lookupWorkMemKb, false));
  return r.rows[0]?.set_config ?? null;
}

/** The session's own work_mem again, before it goes back for the next copy. */
export async function lookupMemoryBack(src: pg.Client, step: Pick<CopyDataStep, 'lookupWorkMemKb'>): Promise<void> {
  if (step.lookupWorkMemKb) await src.query('RESET work_mem');
}

/**
 * A range whose marker is in the target was committed by an earlier attempt
 * (killed before the journal heard of it): its rows are there, counted again.
 */
async function committedRange(ctx: StepContext, step: CopyDataStep): Promise<StepResult | null> {
  if (!step.range) return null;
  const dst = await ctx.pools.client(step.target.server, step.target.database);
  try {
    if (!(await isMarked(dst, rangeMarkerKey(step)))) return null;
    const r = await dst.query<{ n: string }>(`SELECT count(*)::text AS n FROM ONLY ${qname(step.source)} AS s WHERE ${step.range.where}`);
    const rows = Number(r.rows[0]?.n ?? 0);
    return { rows, detail: { sourceRows: rows, committedEarlier: true } };
  } finally {
    await dst.end().catch(() => undefined);
  }
}

/**
 * One table (or one range of a large table): `COPY ... TO STDOUT` in the run's
 * exported snapshot, piped into `COPY ... FROM STDIN` of the target, in one
 * transaction. A whole table (and the first range) is truncated first in that
 * transaction, so FREEZE applies and a rerun starts clean; every other range
 * commits a marker with its rows, so a rerun skips it, and a range that did not
 * commit left nothing behind.
 */
export const copyData: StepHandler<'copy_data'> = {
  render: (step) => {
    const { before, after } = around(step);
    const memory = step.lookupWorkMemKb ? [`${raiseWorkMemSql(step.lookupWorkMemKb, false)}  -- on the source: room for the lookups' hash in one batch`] : [];
    return [...COPY_SESSION_SETTINGS, 'BEGIN', ...before, ...memory, `${step.copyOut}  -- on the source, in the exported snapshot`, step.copyIn, ...after, 'COMMIT'];
  },
  async run(ctx, step) {
    const earlier = await committedRange(ctx, step);
    if (earlier) return earlier;
    if (!step.binary) return copyOnce(ctx, step, false);
    try {
      return await copyOnce(ctx, step, true);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (!code || !BINARY_FALLBACK_CODES.has(code) || ctx.signal.aborted) throw err;
      ctx.progress.emit({ type: 'log', level: 'warn', message: `${step.table}: binary COPY refused (${(err as Error).message}); copying in text format` });
      return copyOnce(ctx, step, false);
    }
  },
};

/**
 * The rows the copy of `table` into `database` read from the source snapshot, as
 * the journal recorded them: the sum over its ranges when it was split. Undefined
 * when a copy of it has no result (not done, or made by another plan).
 */
export async function copiedSourceRows(
  ctx: Pick<StepContext, 'plan' | 'journal'>,
  database: string,
  table: string,
  /** The journal's done steps read once by a caller asking for many tables (else one read per copy step). */
  done?: ReadonlyMap<string, StepResult>,
): Promise<number | undefined> {
  const steps = ctx.plan.steps.filter((s): s is CopyDataStep => s.kind === 'copy_data' && s.table === table && s.target.database === database);
  const pulled = serverCopyOf(ctx.plan, database, table);
  if (steps.length === 0 && pulled) return serverCopiedRows(done ? done.get(pulled.id) : await ctx.journal.result(pulled.id), table);
  let total = 0;
  for (const s of steps) {
    const r = done ? done.get(s.id) : await ctx.journal.result(s.id);
    const n = Number(r?.detail?.sourceRows ?? r?.rows ?? NaN);
    if (Number.isNaN(n)) return undefined;
    total += n;
  }
  return steps.length > 0 ? total : undefined;
}
