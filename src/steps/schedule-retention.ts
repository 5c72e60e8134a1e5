import type { ScheduleRetentionStep, VerifyRowcountsStep } from '../plan/model.js';
import type { PgClient, StepContext, StepHandler } from './handler.js';
import { ident, literal } from '../pg/quote.js';
import { bestMethod, serverMajor, tableSums, type SumMethod, type TableSum } from '../retention/table-sums.js';
import { readBackupUsage } from '../retention/backup-usage.js';
import { readRetentionDetail, type RetentionDetail, type TargetBaseline } from '../retention/retention-detail.js';
import { tableRetentionComment, tableRetentionSql } from '../retention/table-backup.js';
import { readTableBackups } from '../retention/read-table-backups.js';
import { systemIdentifier } from '../pg/server-identity.js';
import { sourceSumsAtVerify } from './verify-rowcounts.js';

/** Table comments sent in one query. */
const COMMENTS_PER_QUERY = 500;

export const EXPIRES_PLACEHOLDER = '<now + retention.days>';

/** The comment that marks the backup; `retention prune` drops a database only while it carries it. */
export function retentionComment(split: string, expires: string): string {
  return `cloudphone-split: backup of split ${split}, read-only; expires ${expires}; drop with "cloudphone-split retention prune --yes" after that`;
}

/** Read-only for everyone, CONNECT revoked, and the expiry written on the database itself. */
export function retentionSql(split: string, database: string, roles: string[], expires: string): string[] {
  return [
    `ALTER DATABASE ${ident(database)} SET default_transaction_read_only = on`,
    `REVOKE CONNECT, TEMPORARY ON DATABASE ${ident(database)} FROM PUBLIC${roles.map((r) => `, ${ident(r)}`).join('')}`,
    `COMMENT ON DATABASE ${ident(database)} IS ${literal(retentionComment(split, expires))}`,
  ];
}

/** The database's ACL, comment and own read-only setting, as they are before the step changes them. */
export async function readDatabaseState(
  client: PgClient,
  database: string,
): Promise<Pick<RetentionDetail, 'priorAcl' | 'priorComment' | 'priorReadOnly'>> {
  const r = await client.query<{ acl: string | null; comment: string | null; setconfig: string[] | null }>(
    `SELECT d.datacl::text AS acl, shobj_description(d.oid, 'pg_database') AS comment,
            (SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0) AS setconfig
       FROM pg_database d WHERE d.datname = $1`,
    [database],
  );
  const row = r.rows[0];
  const setting = (row?.setconfig ?? []).find((s) => s.startsWith('default_transaction_read_only='));
  return {
    priorAcl: row?.acl ?? null,
    priorComment: row?.comment ?? null,
    priorReadOnly: setting === undefined ? null : setting.slice('default_transaction_read_only='.length),
  };
}

async function readSums(ctx: StepContext, step: VerifyRowcountsStep): Promise<Record<string, TableSum>> {
  const client = await ctx.pools.client(step.target.server, step.target.database);
  try {
    return await tableSums(client, step.tables);
  } finally {
    await client.end();
  }
}

/** The source sums each verify_rowcounts step took of the tables kept in the source (those of this server's best method only). */
async function recordedSourceSums(ctx: StepContext, method: { method: SumMethod; major: number }): Promise<Record<string, TableSum>> {
  const out: Record<string, TableSum> = {};
  if (!sourceSumsAtVerify(ctx.plan)) return out;
  for (const step of ctx.plan.steps.filter((s): s is VerifyRowcountsStep => s.kind === 'verify_rowcounts')) {
    const recorded = (await ctx.journal.result(step.id))?.detail?.sourceSums as Record<string, TableSum> | undefined;
    for (const [table, sum] of Object.entries(recorded ?? {})) {
      if (sum.method === method.method && sum.major === method.major && typeof sum.rows === 'number' && typeof sum.sum === 'string') out[table] = sum;
    }
  }
  return out;
}

async function bestMethodOf(client: PgClient): Promise<{ method: SumMethod; major: number }> {
  const major = await serverMajor(client);
  return { method: bestMethod(major), major };
}

/** Count and checksum of every target table, next to the rows verify_rowcounts counted after the copy. */
async function targetBaselines(ctx: StepContext): Promise<TargetBaseline[]> {
  const out: TargetBaseline[] = [];
  const steps = ctx.plan.steps.filter((s): s is VerifyRowcountsStep => s.kind === 'verify_rowcounts');
  for (const step of steps) {
    const verified = await ctx.journal.result(step.id);
    const counts = (verified?.detail?.counts ?? {}) as Record<string, unknown>;
    const recorded = verified?.detail?.sums as Record<string, TableSum> | undefined;
    // verify_rowcounts took them right after the copy; a journal without them is read again.
    const sums = recorded && step.tables.every((t) => recorded[t]) ? recorded : await readSums(ctx, step);
    for (const table of step.tables) {
      const sum = sums[table];
      if (!sum) continue;
      const copied = counts[table];
      out.push({
        server: step.target.server,
        database: step.target.database,
        table,
        ...sum,
        copiedRows: typeof copied === 'number' ? copied : null,
      });
    }
  }
  return out;
}

/**
 * A session open since before the retirement keeps its own read-only setting (off) and
 * may go on writing to the tables that stay (the moved ones are fenced): the setting and
 * the revoked CONNECT hold for new sessions only. Named in a warning with the statement
 * that ends them; they are not ended here, which could cut off a job of the source's
 * owner mid-write.
 */
async function warnOpenSessions(ctx: StepContext, client: PgClient, database: string): Promise<void> {
  const r = await client.query<{ n: number; who: string | null }>(
    `SELECT count(*)::int AS n, string_agg(DISTINCT usename || coalesce(' (' || nullif(application_name, '') || ')', ''), ', ') AS who
       FROM pg_catalog.pg_stat_activity
      WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND application_name NOT LIKE 'cloudphone-split%'`,
    [database],
  );
  const n = r.rows[0]?.n ?? 0;
  if (n === 0) return;
  ctx.progress.emit({
    type: 'log',
    level: 'warn',
    message:
      `${database} is read-only for every session from now on, but ${n} ${n === 1 ? 'session' : 'sessions'} opened before (${r.rows[0]!.who}) may still write to the tables that stay: ` +
      `end ${n === 1 ? 'it' : 'them'} once nothing needs ${n === 1 ? 'it' : 'them'} (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${database.replaceAll("'", "''")}' AND pid <> pg_backend_pid())`,
  });
}

/**
 * `schedule_retention`, the last step. With `retire` (source.retire): the old
 * database becomes read-only for everyone, CONNECT is revoked from PUBLIC and the
 * service roles, and the expiry is recorded in the journal's retention table and
 * written as the database's comment. Without it: the moved tables stay fenced in
 * place, each commented with its expiry, and nothing else in the source changes.
 * Before changing anything it records what `rollback` needs to put things back (the
 * database's prior ACL, comment and setting, or each table's prior comment), what
 * `retention prune` re-checks (OIDs, write counters, each kept table's checksum), and
 * the count and checksum of every target table (what rollback compares to detect
 * writes to the new databases). A resumed step keeps the expiry and the prior state
 * it recorded the first time.
 */
export const scheduleRetention: StepHandler<'schedule_retention'> = {
  render: (step) => step.sql,
  async run(ctx, step: ScheduleRetentionStep) {
    const journal = ctx.journal;
    if (!journal.retention || !journal.scheduleRetention) throw new Error('this journal keeps no retention table: schedule_retention cannot run');
    const existing = (await journal.retention()).find((r) => r.server === 'source' && r.database === step.database);
    const recorded = existing?.state === 'scheduled' ? readRetentionDetail(existing.detail) : null;
    const kept = recorded && recorded.retire === step.retire ? recorded : null;
    const expiresAt = kept && existing ? existing.expiresAt : new Date(ctx.now().getTime() + step.days * 86_400_000);
    // Verified only by a `verify --checksums` run that passes from now on (it sets the flag).
    const verified = false;
    const targets = await targetBaselines(ctx);
    const client = await ctx.pools.client('source');
    try {
      // A resumed step may find the database already read-only by default.
      await client.query('SET default_transaction_read_only = off');
      const usage = kept?.usage ?? (await readBackupUsage(client));
      const systemId = kept ? kept.systemIdentifier : await systemIdentifier(client);
      const expires = expiresAt.toISOString();
      if (step.retire) {
        const prior = kept ?? (await readDatabaseState(client, step.database));
        const detail: RetentionDetail = {
          days: step.days,
          retire: true,
          systemIdentifier: systemId,
          tables: [],
          views: [],
          priorAcl: prior.priorAcl,
          priorComment: prior.priorComment,
          priorReadOnly: prior.priorReadOnly,
          comment: retentionComment(ctx.plan.name, expires),
          usage,
          targets,
        };
        await journal.scheduleRetention({ server: 'source', database: step.database, expiresAt, verified, detail: { ...detail } });
        for (const s of retentionSql(ctx.plan.name, step.database, step.roles, expires)) await client.query(s);
        await warnOpenSessions(ctx, client, step.database);
      } else {
        const views = ctx.plan.services.flatMap((s) => s.views);
        const backups = kept && kept.tables.length > 0 ? kept : await readTableBackups(client, step.tables, views, await recordedSourceSums(ctx, await bestMethodOf(client)));
        const detail: RetentionDetail = {
          days: step.days,
          retire: false,
          systemIdentifier: systemId,
          tables: backups.tables,
          views: backups.views,
          priorAcl: null,
          priorComment: null,
          priorReadOnly: null,
          comment: tableRetentionComment(ctx.plan.name, expires),
          usage,
          targets,
        };
        // Recorded before any comment is written: rollback and a resumed step find the prior comments here.
        await journal.scheduleRetention({ server: 'source', database: step.database, expiresAt, verified, detail: { ...detail } });
        await client.query('BEGIN');
        try {
          // The settings and every comment in a few round trips (simple queries of many statements, in this transaction).
          const comments = tableRetentionSql(ctx.plan.name, step.tables, expires);
          const chunks = [[`SET LOCAL lock_timeout = '60s'`, ...comments.slice(0, COMMENTS_PER_QUERY)]];
          for (let i = COMMENTS_PER_QUERY; i < comments.length; i += COMMENTS_PER_QUERY) chunks.push(comments.slice(i, i + COMMENTS_PER_QUERY));
          for (const chunk of chunks) await client.query(chunk.join(';\n'));
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      }
    } finally {
      await client.end();
    }
    return { detail: { expiresAt: expiresAt.toISOString(), verified, targetTables: targets.length, retire: step.retire, keptTables: step.retire ? 0 : step.tables.length } };
  },
};
