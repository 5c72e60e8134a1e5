import type { StopReplicationStep } from '../plan/model.js';
import type { StepHandler } from './handler.js';
import { dropReplicationOf } from '../online/drop-replication.js';

/**
 * `stop_replication`: once the service's data is caught up and verified, drops its
 * subscription (disabled and detached from its slot first), then on the source its
 * slot, leftover table-sync slots and publication, so no slot pins the source's WAL.
 */
export const stopReplication: StepHandler<'stop_replication'> = {
  render: (step) => step.sql,
  async run(ctx, step: StopReplicationStep) {
    const report = await dropReplicationOf(ctx.pools, step);
    return { detail: { dropped: report.dropped, subscriberMs: report.subscriberMs, publisherMs: report.publisherMs } };
  },
};
