import type { StopReplicationStep } from '../plan/model.js';
import type { StepHandler } from './handler.js';
import { releaseReplicationOf, stopSubscriptionOf } from '../online/drop-replication.js';

/**
 * `stop_replication` (cutover, inside the window): once the service's data is caught
 * up, drops its subscription on the target (disabled and detached from its slot first;
 * its apply worker is stopped when the drop returns), so that nothing but the services
 * writes there from then on. The source's slot, publication and role are dropped by
 * `release_replication` once the services are switched; a plan made before that step
 * existed has none, and this step drops them too, as it did then. The dropped
 * subscription's oid is kept in the detail: release_replication finds its table-sync
 * slots by it.
 */
export const stopReplication: StepHandler<'stop_replication'> = {
  render: (step) => step.sql,
  async run(ctx, step: StopReplicationStep) {
    const report = await stopSubscriptionOf(ctx.pools, step);
    const released = ctx.plan.steps.some((s) => s.kind === 'release_replication' && s.target.server === step.target.server && s.target.database === step.target.database);
    const dropped = [...report.dropped];
    if (!released) dropped.push(...(await releaseReplicationOf(ctx.pools, step, report.subscriptionOid ?? null)).dropped);
    return { detail: { dropped, subscriptionOid: report.subscriptionOid ?? null, subscriberMs: report.subscriberMs } };
  },
};
