import type { StopReverseReplicationStep } from '../plan/model.js';
import type { StepContext, StepHandler } from './handler.js';
import { dropReverseReplicationOf } from '../online/drop-replication.js';
import { replicationPrefix } from '../online/replication-sql.js';
import { REVERSE_INFIX } from '../online/reverse-sql.js';
import { readBackupUsage } from '../retention/backup-usage.js';
import { readRetentionDetail } from '../retention/retention-detail.js';

/**
 * Once the split's last reverse subscription is gone, the backup's write counters are
 * recorded again: the rows its apply workers wrote are counted there, and from now on
 * `retention prune` proves against this point that nothing else wrote to the backup.
 */
async function recordBackupUsage(ctx: StepContext): Promise<boolean> {
  const backup = (await ctx.journal.retention?.())?.find((r) => r.server === 'source' && r.database === ctx.plan.source.database && r.state === 'scheduled');
  const detail = backup ? readRetentionDetail(backup.detail) : null;
  if (!backup || !detail) return false;
  const src = await ctx.pools.client('source');
  try {
    const left = await src.query(`SELECT 1 FROM pg_subscription WHERE subname LIKE $1`, [`${replicationPrefix(ctx.plan.name).replaceAll('_', '\\_')}${REVERSE_INFIX.replaceAll('_', '\\_')}%`]);
    if (left.rowCount) return false;
    const usage = await readBackupUsage(src);
    return (await ctx.journal.updateRetention?.('source', backup.database, { detail: { ...backup.detail, usage } })) ?? false;
  } finally {
    await src.end();
  }
}

/**
 * `stop_reverse_replication`: ends the reverse replication of one service database: the
 * source's subscription (disabled, detached, dropped), then on the target its slot,
 * publication and replication role. `rollback` runs it last (phase `reverse`), once the
 * source has every write; `cutover --complete` runs it to end the way back for good
 * (phase `complete`), recording the backup's write counters once no reverse
 * subscription of the split is left. Safe to run again.
 */
export const stopReverseReplication: StepHandler<'stop_reverse_replication'> = {
  render: (step) => step.sql,
  async run(ctx, step: StopReverseReplicationStep) {
    const report = await dropReverseReplicationOf(ctx.pools, step);
    const usageRecorded = step.phase === 'complete' ? await recordBackupUsage(ctx) : false;
    return { detail: { dropped: report.dropped, usageRecorded } };
  },
};
