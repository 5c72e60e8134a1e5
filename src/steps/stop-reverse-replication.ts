import type { StopReverseReplicationStep } from '../plan/model.js';
import type { StepContext, StepHandler } from './handler.js';
import { dropReverseReplicationOf } from '../online/drop-replication.js';
import { replicationPrefix } from '../online/replication-sql.js';
import { REVERSE_INFIX } from '../online/reverse-sql.js';
import { readBackupUsage } from '../retention/backup-usage.js';
import { readRetentionDetail } from '../retention/retention-detail.js';
import { tableSums, type TableSum } from '../retention/table-sums.js';
import type { TableBackup } from '../retention/table-backup.js';
import type { PgClient } from './handler.js';

/**
 * Once the split's last reverse subscription is gone, the backup's write counters (and a
 * kept table's count and checksum) are recorded again: the rows its apply workers wrote
 * are counted there, and from now on `retention prune` proves against this point that
 * nothing else wrote to the backup.
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
    const tables = await keptTableSums(src, backup.detail, detail.tables);
    return (await ctx.journal.updateRetention?.('source', backup.database, { detail: { ...backup.detail, usage, ...(tables ? { tables } : {}) } })) ?? false;
  } finally {
    await src.end();
  }
}

/**
 * The kept tables of a source that stays in use (`source.retire: false`), their count and
 * checksum taken again the way they were recorded (what `retention prune` compares with
 * before it drops them): the rows reverse replication wrote into them since they became
 * backups were the services' own. The journal's records as they were, with the new sums;
 * null when there are none (a retired source is proven by its write counters alone).
 */
async function keptTableSums(src: PgClient, raw: Record<string, unknown> | null | undefined, tables: readonly TableBackup[]): Promise<unknown[] | null> {
  const records = Array.isArray(raw?.tables) ? (raw.tables as unknown[]) : [];
  if (tables.length === 0 || records.length === 0) return null;
  const sums = new Map<string, TableSum>();
  for (const method of new Set(tables.map((t) => t.method))) {
    const taken = await tableSums(src, tables.filter((t) => t.method === method).map((t) => t.table), method);
    for (const [table, sum] of Object.entries(taken)) sums.set(table, sum);
  }
  return records.map((r) => {
    const table = (r as { table?: unknown }).table;
    const sum = typeof table === 'string' ? sums.get(table) : undefined;
    return sum ? { ...(r as Record<string, unknown>), rows: sum.rows, sum: sum.sum, major: sum.major } : r;
  });
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
