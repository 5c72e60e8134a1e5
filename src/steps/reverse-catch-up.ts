import type { ReverseCatchUpStep } from '../plan/model.js';
import type { StepHandler } from './handler.js';
import { CATCH_UP_POLL_MS, CATCH_UP_TIMEOUT_MS } from '../online/cutover-sql.js';
import { pause } from '../online/pause.js';

/**
 * `reverse_catch_up` (rollback after cutover, after fence_target): reads the target's
 * WAL insert position once (every write the target acknowledged before its fence lies
 * below it), then waits until the source's subscription has confirmed it on the
 * target's slot: every such write is then applied and flushed in the source. Running
 * it again reads a new position (the target is fenced: nothing new to wait for).
 */
export const reverseCatchUp: StepHandler<'reverse_catch_up'> = {
  render: (step) => step.sql,
  async run(ctx, step: ReverseCatchUpStep) {
    const t0 = Date.now();
    const pool = ctx.pools.pool(step.target.server, step.target.database);
    const lsn = (await pool.query<{ lsn: string }>(`SELECT pg_current_wal_insert_lsn()::text AS lsn`)).rows[0]!.lsn;
    const timeoutMs = ctx.catchUpTimeoutMs ?? CATCH_UP_TIMEOUT_MS;
    const until = Date.now() + timeoutMs;
    for (;;) {
      const r = await pool.query<{ active: boolean; confirmed: string | null; reached: boolean }>(
        `SELECT active, confirmed_flush_lsn::text AS confirmed, coalesce(confirmed_flush_lsn >= $1::pg_lsn, false) AS reached
           FROM pg_replication_slots WHERE slot_name = $2`,
        [lsn, step.slot],
      );
      const slot = r.rows[0];
      if (!slot) {
        throw new Error(
          `the reverse replication slot ${step.slot} is missing on ${step.target.database} (server ${step.target.server}): ` +
            'the writes made there since cutover cannot reach the source this way; nothing was lost (the target keeps them), but rollback cannot finish: copy them back by hand',
        );
      }
      if (slot.reached) {
        const ms = Date.now() - t0;
        ctx.progress.emit({ type: 'log', level: 'info', message: `the source has applied every write made to ${step.target.database} (up to ${lsn}) in ${ms} ms` });
        return { detail: { lsn, ms } };
      }
      if (ctx.signal.aborted) throw new Error('interrupted while waiting for the reverse replication to catch up');
      if (Date.now() > until) {
        throw new Error(
          `the source's subscription did not reach ${step.target.database}'s position ${lsn} within ${timeoutMs / 1000} s ` +
            `(slot ${step.slot} at ${slot.confirmed ?? 'none'}${slot.active ? '' : ', no subscription connected'}): ` +
            "check the source server's log for the subscription's errors, then rerun rollback (the target stays fenced, nothing is lost)",
        );
      }
      await pause(CATCH_UP_POLL_MS, ctx.signal);
    }
  },
};
