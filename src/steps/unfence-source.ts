import type { UnfenceSourceStep } from '../plan/model.js';
import type { PgClient, StepContext, StepHandler } from './handler.js';
import { fencedTables, liftBackupMark, removeFence, restoreTableComments } from '../rollback/source-restore.js';
import { readRetentionDetail } from '../retention/retention-detail.js';

/**
 * True when the journal may live in the source database itself (its schema then stays,
 * only the fence function goes): same database name, and the same server as far as
 * the system identifiers tell (unknown counts as the same: keeping the schema is safe).
 */
async function journalInSource(ctx: StepContext, client: PgClient): Promise<boolean> {
  const control = await ctx.journal.controlDatabase?.();
  if (!control) return true;
  const db = (await client.query<{ db: string }>(`SELECT current_database() AS db`)).rows[0]!.db;
  if (db !== control.database) return false;
  if (control.systemIdentifier === null) return true;
  const id = await client
    .query<{ id: string }>(`SELECT system_identifier::text AS id FROM pg_control_system()`)
    .then((r) => r.rows[0]?.id ?? null)
    .catch(() => null);
  return id === null || id === control.systemIdentifier;
}

/**
 * `unfence_source` (rollback after cutover, once the source holds every write of the
 * targets and its sequences are past theirs): the old database is given back its state
 * before schedule_retention (read-write, privileges, comment; without source.retire, the
 * prior comment of each moved table, the database being untouched) and its retention ends
 * (the journal row becomes `restored`: `retention prune` never drops it), then the
 * fence triggers go. Before the config is switched back: a service restarted on the
 * source finds it writable. Running it again finds nothing left to do.
 */
export const unfenceSource: StepHandler<'unfence_source'> = {
  render: (step) => ['BEGIN', ...step.sql, 'COMMIT'],
  async run(ctx, step: UnfenceSourceStep) {
    const client = await ctx.pools.client('source');
    const warnings: string[] = [];
    let lifted = false;
    let stillFenced: string[] = [];
    try {
      await client.query('SET default_transaction_read_only = off');
      const backup = (await ctx.journal.retention?.())?.find((r) => r.server === 'source' && r.database === step.database && r.state === 'scheduled');
      const detail = backup ? readRetentionDetail(backup.detail) : null;
      if (backup && detail?.retire) {
        const prior = { acl: detail.priorAcl, comment: detail.priorComment, readOnly: detail.priorReadOnly, written: detail.comment };
        const report = await liftBackupMark(client, step.database, ctx.plan.name, prior);
        warnings.push(...report.warnings);
        lifted = true;
        await ctx.journal.updateRetention?.('source', step.database, { state: 'restored' });
      } else if (backup && detail) {
        // Without retire only the moved tables were marked (the database itself was left as it was): their comments go back.
        const marks = await restoreTableComments(client, { tables: detail.tables.map((t) => ({ table: t.table, priorComment: t.priorComment })), written: detail.comment });
        warnings.push(...marks.warnings);
        lifted = true;
        await ctx.journal.updateRetention?.('source', step.database, { state: 'restored' });
      }
      await removeFence(client, step.tables, await journalInSource(ctx, client), ctx.plan.name);
      stillFenced = await fencedTables(client);
    } finally {
      await client.end();
    }
    for (const w of warnings) ctx.progress.emit({ type: 'log', level: 'warn', message: w });
    return { detail: { tables: step.tables.length, backupLifted: lifted, warnings, stillFenced } };
  },
};
