import type { StopServerCopyStep } from '../plan/model.js';
import type { StepHandler } from './handler.js';
import { dropReplicationOf } from '../online/drop-replication.js';

/**
 * `stop_server_copy`: once every table is copied, the subscription is dropped
 * (disabled and detached from its slot first), then on the source its slot, leftover
 * table-sync slots, the publication and the replication role: no slot pins the
 * source's WAL and nothing streams afterwards. Each is dropped only if it exists.
 */
export const stopServerCopy: StepHandler<'stop_server_copy'> = {
  render: (step) => step.sql,
  async run(ctx, step: StopServerCopyStep) {
    const report = await dropReplicationOf(ctx.pools, step);
    return { detail: { dropped: report.dropped } };
  },
};
