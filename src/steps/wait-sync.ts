import type { WaitSyncStep } from '../plan/model.js';
import type { PgClient, StepHandler } from './handler.js';
import { WAIT_POLL_MS } from '../online/replication-sql.js';
import { pause } from '../online/pause.js';

/** Errors a subscription's workers may hit (a retried failure counts again) before wait_sync gives up. */
export const MAX_NEW_ERRORS = 3;

interface SyncState {
  total: number;
  ready: number;
  enabled: boolean;
}

export async function syncState(client: PgClient, subscription: string): Promise<SyncState | undefined> {
  const r = await client.query<SyncState>(
    `SELECT s.subenabled AS enabled, count(r.srrelid)::int AS total, (count(*) FILTER (WHERE r.srsubstate = 'r'))::int AS ready
       FROM pg_subscription s LEFT JOIN pg_subscription_rel r ON r.srsubid = s.oid
      WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      GROUP BY s.oid, s.subenabled`,
    [subscription],
  );
  return r.rows[0];
}

/** Apply and table-sync errors so far (15+: pg_stat_subscription_stats); null on older servers. */
export async function errorCount(client: PgClient, subscription: string): Promise<number | null> {
  const v = await client.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`);
  if ((v.rows[0]?.v ?? 0) < 150000) return null;
  const r = await client.query<{ n: string }>(
    `SELECT (apply_error_count + sync_error_count)::text AS n FROM pg_stat_subscription_stats WHERE subname = $1`,
    [subscription],
  );
  return Number(r.rows[0]?.n ?? 0);
}

/**
 * `wait_sync`: polls the subscription until every table has finished its initial copy
 * and caught up ('r' in pg_subscription_rel), logging each change of the count. Fails
 * when the subscription is gone or disabled, or when its workers keep failing (their
 * errors are in the target server's log); rerunning apply waits again.
 */
export const waitSync: StepHandler<'wait_sync'> = {
  render: (step) => step.sql,
  async run(ctx, step: WaitSyncStep) {
    const client = await ctx.pools.client(step.target.server, step.target.database);
    const t0 = Date.now();
    try {
      const baseline = await errorCount(client, step.subscription);
      let last = -1;
      for (;;) {
        if (ctx.signal.aborted) throw new Error(`interrupted while ${step.target.database} was still copying`);
        const state = await syncState(client, step.subscription);
        if (!state) {
          throw new Error(`the subscription ${step.subscription} is missing from ${step.target.database}: run \`cloudphone-split rollback\`, then apply again`);
        }
        if (!state.enabled) throw new Error(`the subscription ${step.subscription} of ${step.target.database} is disabled: ALTER SUBSCRIPTION ... ENABLE, then rerun apply`);
        if (state.ready !== last) {
          last = state.ready;
          ctx.progress.emit({ type: 'log', level: 'info', message: `${step.target.database}: ${state.ready} of ${state.total} tables copied and streaming` });
        }
        if (state.total > 0 && state.ready === state.total) return { detail: { tables: state.total, ms: Date.now() - t0 } };
        if (baseline !== null) {
          const errors = await errorCount(client, step.subscription);
          if (errors !== null && errors - baseline >= MAX_NEW_ERRORS) {
            throw new Error(
              `the subscription ${step.subscription} of ${step.target.database} failed ${errors - baseline} times while copying ` +
                `(${state.ready} of ${state.total} tables ready); its errors are in the log of server ${step.target.server}: fix the cause, then rerun apply`,
            );
          }
        }
        await pause(WAIT_POLL_MS, ctx.signal);
      }
    } finally {
      await client.end();
    }
  },
};
