import type { WaitServerCopyStep } from '../plan/model.js';
import type { StepContext, StepHandler } from './handler.js';
import { parseKey } from '../catalog/model.js';
import { qname } from '../pg/quote.js';
import { WAIT_POLL_MS } from '../online/replication-sql.js';
import { pause } from '../online/pause.js';
import { errorCount, MAX_NEW_ERRORS, syncState } from './wait-sync.js';
import { tableSyncs } from '../server-copy/sync-progress.js';

/** Each table's row count in the (fenced, so unchanging) source: what verify_rowcounts compares the target with. */
async function sourceCounts(ctx: StepContext, tables: string[]): Promise<Record<string, number>> {
  const src = await ctx.pools.client('source');
  try {
    const out: Record<string, number> = {};
    for (const t of tables) {
      const r = await src.query<{ n: string }>(`SELECT count(*)::text AS n FROM ONLY ${qname(parseKey(t))}`);
      out[t] = Number(r.rows[0]?.n ?? NaN);
    }
    return out;
  } finally {
    await src.end();
  }
}

/**
 * `wait_server_copy`: polls the subscription until every table is ready ('r'),
 * reporting the rows copied so far (live in `status`) and each table as it finishes.
 * Meanwhile it counts the source's rows of every table: the source is fenced, so the
 * counts hold for the copy whenever they are read. Fails when the subscription is gone
 * or disabled, or its workers keep failing (errors in the target server's log);
 * rerunning apply waits again, the target server having gone on copying meanwhile.
 */
export const waitServerCopy: StepHandler<'wait_server_copy'> = {
  render: (step) => step.sql,
  async run(ctx, step: WaitServerCopyStep) {
    const t0 = Date.now();
    const counting = sourceCounts(ctx, step.tables);
    // Settled here, awaited below: a failure of the wait must not leave it unhandled.
    counting.catch(() => undefined);
    const client = await ctx.pools.client(step.target.server, step.target.database);
    const ready = new Set<string>();
    const rows: Record<string, number> = {};
    try {
      const baseline = await errorCount(client, step.subscription);
      for (;;) {
        if (ctx.signal.aborted) throw new Error(`interrupted while ${step.target.database} was still copying (its server goes on copying; rerun apply to wait for it)`);
        const state = await syncState(client, step.subscription);
        if (!state) {
          throw new Error(`the subscription ${step.subscription} is missing from ${step.target.database}: run \`cloudphone-split rollback\`, then apply again`);
        }
        if (!state.enabled) throw new Error(`the subscription ${step.subscription} of ${step.target.database} is disabled: ALTER SUBSCRIPTION ... ENABLE, then rerun apply`);
        const syncs = await tableSyncs(client, step.subscription);
        for (const s of syncs) {
          rows[s.table] = s.rows;
          if (s.state === 'r' && !ready.has(s.table)) {
            ready.add(s.table);
            ctx.progress.emit({ type: 'log', level: 'info', message: `${step.target.database}: ${s.table} copied by its server (${ready.size} of ${syncs.length})` });
          }
        }
        ctx.progress.emit({ type: 'step-progress', stepId: step.id, rows: Object.values(rows).reduce((a, b) => a + b, 0), bytes: 0 });
        if (state.total > 0 && state.ready === state.total) break;
        if (baseline !== null) {
          const errors = await errorCount(client, step.subscription);
          if (errors !== null && errors - baseline >= MAX_NEW_ERRORS) {
            throw new Error(
              `the subscription ${step.subscription} of ${step.target.database} failed ${errors - baseline} times while copying ` +
                `(${state.ready} of ${state.total} tables ready); its errors are in the log of server ${step.target.server}: fix the cause (or write copy: relay for this service), then rerun apply`,
            );
          }
        }
        await pause(WAIT_POLL_MS, ctx.signal);
      }
    } finally {
      await client.end();
    }
    const sourceRows = await counting;
    const total = Object.values(sourceRows).reduce((a, b) => a + b, 0);
    return { rows: total, detail: { tables: step.tables.length, sourceRows, ms: Date.now() - t0 } };
  },
};
