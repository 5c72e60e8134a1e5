import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { PINNED_SETTINGS } from '../verify/checksum-sql.js';
import type { CopyDataStep } from '../plan/model.js';
import type { StepBatch, StepContext, StepResult } from './handler.js';
import { sessionCache } from './session-cache.js';
import { connectionLoss, describeEnd } from '../pg/connection-loss.js';
import { CopyIn, CopyOut } from '../pg/copy-relay.js';
import { around, lookupMemory, lookupMemoryBack } from './copy-data.js';
import { BATCH_BYTES, BATCH_MAX, targetKey } from './batch-size.js';
import { pauseForTest } from '../engine/test-pause.js';
import { qname } from '../pg/quote.js';

/**
 * One table of a batch inside the target's open transaction: its TRUNCATE, the COPY
 * piped from the source session, the row count check. `state.broken` is set to the
 * end whose connection failed first.
 */
async function pipeTable(ctx: StepContext, step: CopyDataStep, src: pg.Client, dst: pg.Client, ends: { source: string; target: string }, state: { broken: string }) {
  const { before, after } = around(step);
  state.broken = ends.target;
  for (const s of before) await dst.query(s);
  await lookupMemory(src, step);
  const out = src.query(new CopyOut(step.copyOut));
  const inp = dst.query(new CopyIn(step.copyIn, { recycle: (b) => out.recycle(b), waits: out.waits }));
  let first: string | undefined;
  out.once('error', () => (first ??= ends.source));
  inp.once('error', () => (first ??= ends.target));
  const abort = () => out.destroy(new Error('the copy was stopped (Ctrl-C or SIGTERM); the rerun copies these tables again'));
  ctx.signal.addEventListener('abort', abort, { once: true });
  try {
    await pipeline(out, inp);
  } catch (err) {
    state.broken = first ?? state.broken;
    throw err;
  } finally {
    ctx.signal.removeEventListener('abort', abort);
  }
  await lookupMemoryBack(src, step);
  if (inp.rowCount !== out.rowCount) throw new Error(`${step.table}: read ${out.rowCount} rows from the source but the target stored ${inp.rowCount}`);
  for (const s of after) await dst.query(s);
  ctx.progress.emit({ type: 'step-progress', stepId: step.id, rows: inp.rowCount, bytes: out.bytes, rowsEstimate: step.rowsEstimate, bytesEstimate: step.bytes });
  return { rows: inp.rowCount, bytes: out.bytes, sourceRows: out.rowCount };
}

/**
 * Which source tables of a batch hold at least one row, in the run's snapshot (the session
 * `src` is in): one round trip for the whole batch. A copy reads `FROM ONLY <table> AS s`
 * (lookups only add columns), so a table without a row here gives a COPY of no rows.
 */
async function holdRows(src: pg.Client, steps: CopyDataStep[]): Promise<boolean[]> {
  const r = await src.query<{ has: boolean[] }>(`SELECT ARRAY[${steps.map((s) => `EXISTS (SELECT 1 FROM ONLY ${qname(s.source)})`).join(', ')}]::boolean[] AS has`);
  const has = r.rows[0]?.has;
  if (!Array.isArray(has) || has.length !== steps.length || has.some((h) => typeof h !== 'boolean')) throw new Error('the source did not say which tables of the batch hold rows');
  return has;
}

/**
 * Whole small tables of one target database, one after the other in one transaction of
 * the target (each truncated first, as when copied alone), read on one source session in
 * the run's snapshot. Every table is copied whatever its statistics say: an estimate of
 * no rows only makes it a member of a batch, never a table left out. Any failure (a type
 * binary COPY refuses, a lost connection) rolls the whole batch back; the executor then
 * copies each table alone, with the text fallback of copy-data.ts. A table the snapshot
 * shows empty (holdRows) is only emptied on the target, with the others in one round trip:
 * a schema-heavy split copies hundreds of empty tables.
 */
export const copyBatch: StepBatch<'copy_data'> = {
  max: BATCH_MAX,
  accepts: (step) => !step.range && step.bytes <= BATCH_BYTES,
  key: (step) => targetKey(step.target),
  async run(ctx, steps) {
    const snapshot = await ctx.snapshot();
    const sessions = sessionCache(ctx.pools);
    const { server, database } = steps[0]!.target;
    const ends = { source: describeEnd(ctx.pools, 'source', ctx.plan.source.database), target: describeEnd(ctx.pools, server, database) };
    const state = { broken: ends.source };
    let doing = `copying ${steps.length} small tables into ${database}`;
    let src: pg.Client | undefined;
    let dst: pg.Client | undefined;
    let clean = false;
    try {
      src = await sessions.source(snapshot);
      state.broken = ends.target;
      dst = await sessions.target(server, database);
      state.broken = ends.source;
      doing = `reading which of ${steps.length} small tables hold rows`;
      const has = await holdRows(src, steps);
      state.broken = ends.target;
      await dst.query('BEGIN');
      if (steps.some((s, i) => has[i] && !s.binary)) {
        // A text COPY among them: both ends under the same text settings (see copy-data.ts).
        await src.query(PINNED_SETTINGS.join('; '));
        await dst.query(PINNED_SETTINGS.join('; '));
      }
      const results: StepResult[] = [];
      /** What the empty tables need on the target (their TRUNCATE or DELETE), sent together. */
      const emptying: string[] = [];
      for (const [i, step] of steps.entries()) {
        doing = `copying ${step.table ?? step.id}`;
        if (has[i]) {
          const r = await pipeTable(ctx, step, src, dst, ends, state);
          results.push({ rows: r.rows, bytes: r.bytes, detail: { sourceRows: r.sourceRows, binary: step.binary, snapshot, batch: steps.length } });
        } else {
          const { before, after } = around(step);
          emptying.push(...before, ...after);
          ctx.progress.emit({ type: 'step-progress', stepId: step.id, rows: 0, bytes: 0, rowsEstimate: step.rowsEstimate, bytesEstimate: step.bytes });
          results.push({ rows: 0, bytes: 0, detail: { sourceRows: 0, binary: step.binary, snapshot, batch: steps.length, empty: true } });
        }
        await pauseForTest(ctx.env, ctx.pools, 'within', step.id);
      }
      state.broken = ends.target;
      if (emptying.length > 0) {
        doing = `emptying ${steps.length - has.filter(Boolean).length} tables of ${database} whose source is empty`;
        await dst.query(emptying.join(';\n'));
      }
      doing = `committing ${steps.length} small tables into ${database}`;
      await dst.query('COMMIT');
      clean = true;
      return results;
    } catch (err) {
      await dst?.query('ROLLBACK').catch(() => undefined);
      throw connectionLoss(err, state.broken, doing);
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
  },
};
