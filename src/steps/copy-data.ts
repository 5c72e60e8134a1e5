import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import copyStreams from 'pg-copy-streams';
import type pg from 'pg';
import type { CopyDataStep } from '../plan/model.js';
import type { StepContext, StepHandler, StepResult } from './handler.js';
import { ident, qname } from '../pg/quote.js';

/** Target session settings for bulk loads (pgcopydb's dstSettings). */
export const COPY_SESSION_SETTINGS: readonly string[] = [
  'SET synchronous_commit = off',
  'SET statement_timeout = 0',
  'SET lock_timeout = 0',
  `SET maintenance_work_mem = '512MB'`,
];

/** SQLSTATEs that mean "binary COPY cannot carry this table": retry it in text. */
const BINARY_FALLBACK_CODES = new Set(['22P03', '42883', '0A000', '22P02']);

export interface CopySql {
  copyOut: string;
  copyIn: string;
  /** What runs on the target, in one transaction, around the COPY. */
  before: string[];
}

/** Builds the source query and the target COPY for one table (or one range of it). */
export function copySql(opts: {
  source: { schema: string; name: string };
  columns: string[];
  /** Denormalized columns: target name, and the source expression read through a join. */
  extra: Array<{ name: string; expression: string }>;
  joins: string[];
  binary: boolean;
  freeze: boolean;
  where: string | null;
}): CopySql {
  const t = qname(opts.source);
  const format = opts.binary ? 'FORMAT binary' : 'FORMAT text';
  const targetCols = [...opts.columns, ...opts.extra.map((e) => e.name)].map(ident).join(', ');
  let copyOut: string;
  if (opts.extra.length === 0 && !opts.where) {
    copyOut = `COPY ${t} (${opts.columns.map(ident).join(', ')}) TO STDOUT (${format})`;
  } else {
    const cols = [...opts.columns.map((c) => `s.${ident(c)}`), ...opts.extra.map((e) => e.expression)];
    const where = opts.where ? ` WHERE ${opts.where}` : '';
    copyOut = `COPY (SELECT ${cols.join(', ')} FROM ONLY ${t} AS s${opts.joins.map((j) => ` ${j}`).join('')}${where}) TO STDOUT (${format})`;
  }
  const before = opts.where ? [`DELETE FROM ONLY ${t} AS s WHERE ${opts.where}`] : [`TRUNCATE ONLY ${t}`];
  const copyIn = `COPY ${t} (${targetCols}) FROM STDIN (${format}${opts.freeze && !opts.where ? ', FREEZE' : ''})`;
  return { copyOut, copyIn, before };
}

function toText(sql: string): string {
  return sql.replace('(FORMAT binary', '(FORMAT text');
}

class Counter extends Transform {
  bytes = 0;
  constructor(private readonly onChunk: (bytes: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    this.onChunk(this.bytes);
    cb(null, chunk);
  }
}

async function copyOnce(ctx: StepContext, step: CopyDataStep, binary: boolean): Promise<StepResult> {
  const copyOut = binary ? step.copyOut : toText(step.copyOut);
  const copyIn = binary ? step.copyIn : toText(step.copyIn);
  const snapshot = await ctx.snapshot();
  let src: pg.Client | undefined;
  let dst: pg.Client | undefined;
  try {
    src = await ctx.pools.client('source');
    dst = await ctx.pools.client(step.target.server, step.target.database);
    await src.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await src.query(`SET TRANSACTION SNAPSHOT '${snapshot.replaceAll("'", "''")}'`);
    for (const s of COPY_SESSION_SETTINGS) await dst.query(s);
    await dst.query('BEGIN');
    // Statements between BEGIN and the COPY: the TRUNCATE (or a range's DELETE).
    for (const s of step.sql.slice(1, -2)) await dst.query(s);
    let lastEmit = 0;
    let rowsSeen = 0;
    const counter = new Counter((bytes) => {
      const now = Date.now();
      if (now - lastEmit < 250) return;
      lastEmit = now;
      ctx.progress.emit({
        type: 'step-progress',
        stepId: step.id,
        rows: rowsSeen,
        bytes,
        rowsEstimate: step.rowsEstimate,
        bytesEstimate: step.bytes,
      });
    });
    const out = src.query(copyStreams.to(copyOut));
    const inp = dst.query(copyStreams.from(copyIn));
    const timer = setInterval(() => (rowsSeen = out.rowCount), 200);
    const abort = () => out.destroy(new Error('interrupted'));
    ctx.signal.addEventListener('abort', abort, { once: true });
    try {
      await pipeline(out, counter, inp);
    } finally {
      clearInterval(timer);
      ctx.signal.removeEventListener('abort', abort);
    }
    const sourceRows = out.rowCount;
    const rows = inp.rowCount;
    if (rows !== sourceRows) {
      throw new Error(`read ${sourceRows} rows from the source but the target stored ${rows}`);
    }
    await dst.query('COMMIT');
    await src.query('COMMIT');
    ctx.progress.emit({ type: 'step-progress', stepId: step.id, rows, bytes: counter.bytes, rowsEstimate: step.rowsEstimate, bytesEstimate: step.bytes });
    return { rows, bytes: counter.bytes, detail: { sourceRows, binary, snapshot } };
  } catch (err) {
    // A failed COPY aborts its transaction: nothing of it stays in the target.
    await dst?.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await src?.end().catch(() => undefined);
    await dst?.end().catch(() => undefined);
  }
}

/**
 * One table (or one range of a large table): `COPY ... TO STDOUT` in the run's
 * exported snapshot, piped into `COPY ... FROM STDIN` of the target, after a
 * TRUNCATE in the same transaction (so FREEZE applies and a rerun starts clean).
 */
export const copyData: StepHandler<'copy_data'> = {
  render: (step) => [...COPY_SESSION_SETTINGS, ...step.sql.slice(0, -2), `${step.copyOut}  -- on the source, in the exported snapshot`, step.copyIn, 'COMMIT'],
  async run(ctx, step) {
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
