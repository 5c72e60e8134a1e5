import type { ScheduleRetentionStep } from '../plan/model.js';
import type { StepHandler } from './handler.js';
import { ident, literal } from '../pg/quote.js';

export const EXPIRES_PLACEHOLDER = '<now + retention.days>';

/** Read-only for everyone, CONNECT revoked, and the expiry written on the database itself. */
export function retentionSql(split: string, database: string, roles: string[], expires: string): string[] {
  return [
    `ALTER DATABASE ${ident(database)} SET default_transaction_read_only = on`,
    `REVOKE CONNECT, TEMPORARY ON DATABASE ${ident(database)} FROM PUBLIC${roles.map((r) => `, ${ident(r)}`).join('')}`,
    `COMMENT ON DATABASE ${ident(database)} IS ${literal(`cloudphone-split: backup of split ${split}, read-only; expires ${expires}; drop with "cloudphone-split retention prune --yes" after that`)}`,
  ];
}

export const scheduleRetention: StepHandler<'schedule_retention'> = {
  render: (step) => step.sql,
  async run(ctx, step: ScheduleRetentionStep) {
    const pool = ctx.pools.pool('source');
    const prior = await pool.query<{ datacl: string | null; comment: string | null }>(
      `SELECT datacl::text AS datacl, shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`,
      [step.database],
    );
    const already = (await ctx.journal.created()).find((o) => o.kind === 'retention' && o.name === step.database);
    const expiresAt =
      typeof already?.detail?.expiresAt === 'string'
        ? already.detail.expiresAt
        : new Date(ctx.now().getTime() + step.days * 86_400_000).toISOString();
    if (!already) {
      await ctx.journal.recordCreated({
        kind: 'retention',
        server: 'source',
        name: step.database,
        detail: { expiresAt, days: step.days, priorAcl: prior.rows[0]?.datacl ?? null, priorComment: prior.rows[0]?.comment ?? null },
      });
    }
    for (const s of retentionSql(ctx.plan.name, step.database, step.roles, expiresAt)) await pool.query(s);
    return { detail: { expiresAt } };
  },
};
