import type pg from 'pg';
import type { CatchUpStep, DenormalizeFill } from '../plan/model.js';
import type { StepContext, StepHandler } from './handler.js';
import { CATCH_UP_POLL_MS, CATCH_UP_TIMEOUT_MS } from '../online/cutover-sql.js';
import { pause } from '../online/pause.js';
import { fullFill, refill } from '../online/denormalize-fill.js';
import { dropAllTracking, inPlace, trackableFills } from '../online/denormalize-prepare.js';
import { pauseForTest } from '../engine/test-pause.js';

interface SlotPosition {
  slot: string;
  active: boolean;
  confirmed: string | null;
  reached: boolean;
}

async function positions(src: pg.Pool, slots: string[], lsn: string): Promise<SlotPosition[]> {
  const r = await src.query<SlotPosition>(
    `SELECT slot_name::text AS slot, active, confirmed_flush_lsn::text AS confirmed,
            coalesce(confirmed_flush_lsn >= $1::pg_lsn, false) AS reached
       FROM pg_replication_slots WHERE slot_name = ANY ($2::text[])`,
    [lsn, slots],
  );
  return r.rows;
}

/** Waits until every slot has confirmed `lsn`: every change made before it is applied and flushed on its target. */
async function waitForSlots(ctx: StepContext, step: CatchUpStep, lsn: string): Promise<void> {
  const src = ctx.pools.pool('source');
  const timeoutMs = ctx.catchUpTimeoutMs ?? CATCH_UP_TIMEOUT_MS;
  const until = Date.now() + timeoutMs;
  for (;;) {
    const found = await positions(src, step.slots, lsn);
    const missing = step.slots.filter((s) => !found.some((f) => f.slot === s));
    if (missing.length > 0) {
      throw new Error(`replication slot(s) ${missing.join(', ')} are missing on the source: their subscriptions cannot catch up; run \`cloudphone-split rollback\` and apply again`);
    }
    const behind = found.filter((f) => !f.reached);
    if (behind.length === 0) return;
    if (ctx.signal.aborted) throw new Error('interrupted while waiting for replication to catch up');
    if (Date.now() > until) {
      const list = behind.map((b) => `${b.slot} at ${b.confirmed ?? 'none'}${b.active ? '' : ' (no subscription connected)'}`).join(', ');
      throw new Error(
        `replication did not reach the fence position ${lsn} within ${timeoutMs / 1000} s: ${list}; ` +
          'check the subscriptions in the target servers\' logs, then rerun cutover (the source stays fenced; --catch-up-timeout waits longer)',
      );
    }
    await pause(CATCH_UP_POLL_MS, ctx.signal);
  }
}

/**
 * `catch_up` (cutover, after the fence): reads the source's WAL insert position once (a
 * position read again would move with the subscribers' own writes when they share the
 * server), waits until every slot has confirmed it, then brings the denormalized
 * columns to the fenced source's values: where `cutover` tracked them before the fence
 * (denormalize-tracking.ts), only the rows written since are refilled; otherwise every
 * row is. Then the tracking is dropped. Running it again reads a new position (the
 * source is fenced: nothing new to wait for) and fills again to the same values (every
 * row, once the tracking is gone).
 */
export const catchUp: StepHandler<'catch_up'> = {
  render: (step) => step.sql,
  async run(ctx, step: CatchUpStep) {
    const t0 = Date.now();
    // The insert position, not the write position: with synchronous_commit = off an acknowledged commit may not be written yet.
    const r = await ctx.pools.pool('source').query<{ lsn: string }>(`SELECT pg_current_wal_insert_lsn()::text AS lsn`);
    const lsn = r.rows[0]!.lsn;
    await waitForSlots(ctx, step, lsn);
    const caughtUpMs = Date.now() - t0;
    const filled: Record<string, number> = {};
    /** Per fill: `written` (only the rows written since the fill before the fence) or `all` (every row). */
    const refilled: Record<string, 'written' | 'all'> = {};
    const fills = step.fills ?? [];
    const tracked = fills.length > 0 ? await trackableFills(ctx.pools, ctx.plan) : [];
    const t1 = Date.now();
    const fillOne = async (f: DenormalizeFill): Promise<void> => {
      const key = `${f.target.database}:${f.table}.${f.column}`;
      const t = tracked.find((x) => x.fill.table === f.table && x.fill.column === f.column && x.fill.target.database === f.target.database && x.fill.target.server === f.target.server);
      if (t && (await inPlace(ctx.pools, t))) {
        filled[key] = await refill(ctx.pools, t);
        refilled[key] = 'written';
      } else {
        filled[key] = await fullFill(ctx.pools, f);
        refilled[key] = 'all';
      }
    };
    if (fills.length > 0) {
      // The first fill alone (a test may stop the run right after it), then the others side by side, one table's
      // columns one after the other (their updates would wait on each other's row locks).
      await fillOne(fills[0]!);
      await pauseForTest(ctx.env, ctx.pools, 'mid', step.id);
      const byTable = new Map<string, DenormalizeFill[]>();
      for (const f of fills.slice(1)) {
        const k = `${f.target.server}\0${f.target.database}\0${f.table}`;
        byTable.set(k, [...(byTable.get(k) ?? []), f]);
      }
      await Promise.all([...byTable.values()].map(async (group) => {
        for (const f of group) await fillOne(f);
      }));
    }
    const fillMs = Date.now() - t1;
    if (fills.length > 0) await dropAllTracking(ctx.pools, ctx.plan);
    ctx.progress.emit({ type: 'log', level: 'info', message: `replication caught up with the fence position ${lsn} in ${caughtUpMs} ms` });
    return { rows: Object.values(filled).reduce((a, b) => a + b, 0), detail: { lsn, caughtUpMs, filled, refilled, fillMs } };
  },
};
