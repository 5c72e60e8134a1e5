import type { ReleaseReplicationStep } from '../plan/model.js';
import type { StepHandler } from './handler.js';
import { releaseReplicationOf } from '../online/drop-replication.js';
import { stepId } from './ids.js';

/**
 * `release_replication` (cutover, after the services were switched): the source's side
 * of a forward replication that stop_replication stopped: once no WAL sender uses them,
 * its slot, the table-sync slots its subscription left, its publication and its
 * replication role, so no slot pins the source's WAL.
 */
export const releaseReplication: StepHandler<'release_replication'> = {
  render: (step) => step.sql,
  async run(ctx, step: ReleaseReplicationStep) {
    const stopped = await ctx.journal.result(stepId('stop_replication', step.target.database));
    const oid = stopped?.detail?.subscriptionOid;
    const report = await releaseReplicationOf(ctx.pools, step, typeof oid === 'number' ? oid : null);
    return { detail: { dropped: report.dropped, publisherMs: report.publisherMs } };
  },
};
