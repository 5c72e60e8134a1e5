import type { StartReplicationStep, StartReverseReplicationStep, StartServerCopyStep } from '../plan/model.js';
import { columnListRefusal } from '../steps/start-reverse-replication.js';
import type { StepContext, StepHandler } from '../steps/handler.js';
import { readStatementLogging, statementLogVerdict } from './subscription-log.js';

export const ONLINE_PREFLIGHT_SQL: readonly string[] = [
  '-- online mode, on the source server:',
  `SELECT current_setting('wal_level'), current_setting('max_replication_slots'), current_setting('max_wal_senders'), (SELECT count(*) FROM pg_replication_slots), (SELECT count(*) FROM pg_stat_replication)`,
  '-- online mode, on every target server:',
  `SELECT current_setting('max_logical_replication_workers'), current_setting('max_worker_processes'), current_setting('max_sync_workers_per_subscription'), (SELECT count(*) FROM pg_subscription WHERE subenabled)`,
];

interface Settings {
  version: number;
  superuser: boolean;
  replication: boolean;
  bypassRls: boolean;
  createRole: boolean;
  user: string;
  createSubscription: boolean;
  walLevel: string;
  slots: number;
  senders: number;
  usedSlots: number;
  usedSenders: number;
  workers: number;
  processes: number;
  syncWorkers: number;
  origins: number;
  usedSubscriptions: number;
}

async function readSettings(ctx: StepContext, server: string, ours: string[]): Promise<Settings> {
  const r = await ctx.pools.pool(server).query<Record<string, string | number | boolean>>(
    `SELECT current_setting('server_version_num')::int AS version,
            r.rolsuper AS superuser, r.rolreplication AS replication, r.rolbypassrls AS bypass_rls, r.rolcreaterole AS create_role, current_user AS user,
            (current_setting('server_version_num')::int >= 160000
               AND EXISTS (SELECT 1 FROM pg_roles g WHERE g.rolname = 'pg_create_subscription' AND pg_has_role(current_user, g.oid, 'MEMBER'))) AS create_subscription,
            current_setting('wal_level') AS wal_level,
            current_setting('max_replication_slots')::int AS slots,
            current_setting('max_wal_senders')::int AS senders,
            (SELECT count(*) FROM pg_replication_slots WHERE NOT (slot_name = ANY ($1::text[])))::int AS used_slots,
            (SELECT count(*) FROM pg_stat_replication WHERE NOT (application_name = ANY ($1::text[])))::int AS used_senders,
            current_setting('max_logical_replication_workers')::int AS workers,
            current_setting('max_worker_processes')::int AS processes,
            current_setting('max_sync_workers_per_subscription')::int AS sync_workers,
            coalesce(current_setting('max_active_replication_origins', true), current_setting('max_replication_slots'))::int AS origins,
            (SELECT count(*) FROM pg_subscription WHERE subenabled AND NOT (subname = ANY ($1::text[])))::int AS used_subscriptions
       FROM pg_roles r WHERE r.rolname = current_user`,
    [ours],
  );
  const row = r.rows[0]!;
  const n = (k: string) => Number(row[k]);
  return {
    version: n('version'),
    superuser: row.superuser === true,
    replication: row.replication === true,
    bypassRls: row.bypass_rls === true,
    createRole: row.create_role === true,
    user: String(row.user),
    createSubscription: row.create_subscription === true,
    walLevel: String(row.wal_level),
    slots: n('slots'),
    senders: n('senders'),
    usedSlots: n('used_slots'),
    usedSenders: n('used_senders'),
    workers: n('workers'),
    processes: n('processes'),
    syncWorkers: n('sync_workers'),
    origins: n('origins'),
    usedSubscriptions: n('used_subscriptions'),
  };
}

const RESTART = 'then restart the server (the setting takes effect only at start)';

async function tablesWithRowSecurity(ctx: StepContext): Promise<Set<string>> {
  const r = await ctx.pools.pool('source').query<{ key: string }>(
    `SELECT n.nspname || '.' || c.relname AS key FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relrowsecurity`,
  );
  return new Set(r.rows.map((x) => x.key));
}

/**
 * What making a replication role and its slot on `server` takes from a role that is not
 * superuser: CREATEROLE and REPLICATION, and BYPASSRLS when a table it publishes has
 * row-level security (the role gets what the table needs: from PostgreSQL 16 a role may
 * give only the attributes it has; before 16 only a superuser gives either). Pure.
 */
export function replicationRoleProblems(server: string, s: Pick<Settings, 'version' | 'superuser' | 'replication' | 'bypassRls' | 'createRole' | 'user'>, rls: readonly string[], what: string): string[] {
  if (s.superuser) return [];
  const role = `"${s.user.replaceAll('"', '""')}"`;
  if (s.version < 160000) {
    return [`server ${server}: ${what} is a LOGIN REPLICATION${rls.length > 0 ? ' BYPASSRLS' : ''} role, which before PostgreSQL 16 only a superuser may create: connect as one`];
  }
  const missing = [
    !s.createRole && 'CREATEROLE',
    !s.replication && 'REPLICATION',
    rls.length > 0 && !s.bypassRls && 'BYPASSRLS',
  ].filter((x): x is string => typeof x === 'string');
  if (missing.length === 0) return [];
  const because = [
    !s.replication && 'REPLICATION to create its slot and give the role REPLICATION',
    rls.length > 0 && !s.bypassRls && `BYPASSRLS to give it BYPASSRLS (${rls.slice(0, 3).join(', ')}${rls.length > 3 ? ` and ${rls.length - 3} more` : ''} ${rls.length === 1 ? 'has' : 'have'} row-level security, which would hide rows from it)`,
    !s.createRole && 'CREATEROLE to create it',
  ].filter((x): x is string => typeof x === 'string');
  return [`server ${server}: ${what} is a LOGIN REPLICATION${rls.length > 0 ? ' BYPASSRLS' : ''} role: role ${s.user} needs ${because.join('; ')}: as a superuser, ALTER ROLE ${role} ${missing.join(' ')}`];
}

/**
 * A target server's room for `subs` new subscriptions: logical replication workers (one
 * per subscription, more to copy at full speed) and the background processes they come
 * out of. The two settings it asks for fit together: max_worker_processes holds as many
 * workers as the max_logical_replication_workers it proposes, and the launcher. Pure.
 */
export function workerProblems(server: string, s: Pick<Settings, 'workers' | 'processes' | 'syncWorkers' | 'usedSubscriptions'>, subs: number): string[] {
  const problems: string[] = [];
  const workers = s.usedSubscriptions + subs + 1;
  const full = s.usedSubscriptions + subs * (1 + s.syncWorkers);
  if (s.workers < workers) {
    problems.push(
      `server ${server}: max_logical_replication_workers = ${s.workers}; ${subs} subscriptions (and ${s.usedSubscriptions} already there) need at least ${workers} ` +
        `(${full} to copy at full speed): ALTER SYSTEM SET max_logical_replication_workers = ${full}, ${RESTART}`,
    );
  }
  const logical = s.workers < workers ? full : workers;
  if (s.processes < logical + 1) {
    problems.push(`server ${server}: max_worker_processes = ${s.processes} leaves no room for ${logical} replication workers and their launcher: ALTER SYSTEM SET max_worker_processes = ${Math.max(8, logical + 8)}, ${RESTART}`);
  }
  return problems;
}

/**
 * The replication checks of an online plan: wal_level = logical on the source, and
 * enough slots, WAL senders, logical replication workers, background workers and
 * replication origins for the plan's subscriptions and their table-sync workers.
 * Each problem names the setting, the value needed and whether a restart is needed.
 */
export async function onlineProblems(ctx: StepContext): Promise<string[]> {
  // copy: server makes the same objects for a while (start_server_copy).
  const starts = ctx.plan.steps.filter((s): s is StartReplicationStep | StartServerCopyStep => s.kind === 'start_replication' || s.kind === 'start_server_copy');
  const what = starts.some((s) => s.kind === 'start_replication') ? 'online mode' : 'copy: server';
  if (starts.length === 0) return [];
  const ours = starts.map((s) => s.slot);
  const problems: string[] = [];
  const targets = [...new Set(starts.map((s) => s.target.server))];
  const byServer = new Map<string, Settings>();
  for (const server of new Set(['source', ...targets])) {
    try {
      byServer.set(server, await readSettings(ctx, server, ours));
    } catch (err) {
      problems.push(`server ${server} (${ctx.pools.describe(server)}): cannot read its replication settings: ${(err as Error).message}`);
    }
  }
  // The tables with row-level security (read in the source: the new databases' tables carry it as it is there).
  const withRls = await tablesWithRowSecurity(ctx).catch(() => new Set<string>());
  const rlsTables = (tables: readonly string[]) => tables.filter((t) => withRls.has(t));
  // Table-sync workers each take a slot and a WAL sender while they copy.
  const syncPerSub = Math.max(1, ...targets.map((t) => byServer.get(t)?.syncWorkers ?? 2));
  const source = byServer.get('source');
  if (source) {
    if (source.walLevel !== 'logical') {
      problems.push(`server source: wal_level is ${source.walLevel}; ${what} needs logical: ALTER SYSTEM SET wal_level = logical, ${RESTART}`);
    }
    const need = starts.length * (1 + syncPerSub);
    if (source.slots - source.usedSlots < need) {
      problems.push(
        `server source: max_replication_slots = ${source.slots} with ${source.usedSlots} in use; ${starts.length} subscriptions and their table-sync workers need ${need} free: ` +
          `ALTER SYSTEM SET max_replication_slots = ${source.usedSlots + need}, ${RESTART}`,
      );
    }
    if (source.senders - source.usedSenders < need) {
      problems.push(
        `server source: max_wal_senders = ${source.senders} with ${source.usedSenders} in use; ${need} more are needed: ` +
          `ALTER SYSTEM SET max_wal_senders = ${source.usedSenders + need}, ${RESTART}`,
      );
    }
    problems.push(...replicationRoleProblems('source', source, rlsTables(starts.flatMap((s) => (s.kind === 'start_replication' ? s.tables : s.tables.map((t) => t.table)))), what === 'online mode' ? 'the role the subscriptions of online mode log in as' : 'the role the target servers log in as to copy'));
  }
  for (const server of targets) {
    const s = byServer.get(server);
    if (!s) continue;
    const subs = starts.filter((x) => x.target.server === server).length;
    problems.push(...workerProblems(server, s, subs));
    if (s.origins < s.usedSubscriptions + subs) {
      const setting = s.version >= 180000 ? 'max_active_replication_origins' : 'max_replication_slots';
      problems.push(`server ${server}: ${setting} = ${s.origins} is below the ${s.usedSubscriptions + subs} subscriptions it would hold: ALTER SYSTEM SET ${setting} = ${s.usedSubscriptions + subs + 4}, ${RESTART}`);
    }
    if (!s.superuser && !s.createSubscription) {
      problems.push(`server ${server}: creating subscriptions needs a superuser${s.version >= 160000 ? ' or a member of pg_create_subscription' : ''}; connect as one`);
    }
    const fills = ctx.plan.steps.some((x) => x.kind === 'catch_up' && (x.fills ?? []).some((f) => f.target.server === server));
    if (!s.superuser && fills) {
      problems.push(`server ${server}: filling denormalized columns at cutover sets session_replication_role, which needs a superuser; connect as one`);
    }
  }
  // Reverse replication after cutover: each target publishes back, from a slot of its own.
  const reverses = ctx.plan.steps.filter((s): s is StartReverseReplicationStep => s.kind === 'start_reverse_replication');
  for (const server of new Set(reverses.map((r) => r.target.server))) {
    const s = byServer.get(server);
    if (!s) continue;
    const tables = reverses.filter((r) => r.target.server === server).flatMap((r) => r.tables.map((t) => t.table));
    problems.push(...replicationRoleProblems(server, s, rlsTables(tables), 'the role reverse replication logs in as after cutover (it carries writes back to the source for rollback)'));
    if (s.walLevel !== 'logical') {
      problems.push(
        `server ${server}: wal_level is ${s.walLevel}; reverse replication after cutover (what rollback uses once services write there) needs logical: ALTER SYSTEM SET wal_level = logical, ${RESTART}`,
      );
    }
    for (const r of reverses.filter((x) => x.target.server === server)) {
      const refusal = columnListRefusal(r, s.version);
      if (refusal) problems.push(`server ${server}: ${refusal}; upgrade it, or plan without denormalized columns there`);
    }
  }
  // Where CREATE SUBSCRIPTION runs, with a replication role's password in its connection string.
  const subscribers = new Map<string, Set<string>>();
  const subscribes = (server: string, why: string) => subscribers.set(server, (subscribers.get(server) ?? new Set()).add(why));
  for (const s of starts) subscribes(s.target.server, s.kind === 'start_replication' ? 'replication into the new databases' : 'copy: server');
  if (reverses.length > 0) subscribes('source', 'reverse replication after cutover');
  for (const [server, whys] of subscribers) {
    const why = [...whys].join(' and ');
    if (byServer.get(server)?.superuser !== false) continue;
    try {
      const verdict = statementLogVerdict(server, why, await readStatementLogging(ctx, server));
      problems.push(...verdict.problems);
      for (const message of verdict.warnings) ctx.progress.emit({ type: 'log', level: 'warn', message: `warning: ${message}` });
    } catch (err) {
      problems.push(`server ${server} (${ctx.pools.describe(server)}): cannot read its logging settings: ${(err as Error).message}`);
    }
  }
  return problems;
}

const HEADER = /^preflight found \d+ problem\(s\):\n {2}/;

/**
 * The preflight handler with the online checks added (for a plan with `online`, or
 * with `copy: server`, whose subscriptions need the same settings):
 * every problem of both is reported at once.
 */
export function withOnlineChecks(inner: StepHandler<'preflight'>): StepHandler<'preflight'> {
  return {
    render: inner.render,
    async run(ctx, step) {
      if (!step.online && !ctx.plan.steps.some((s) => s.kind === 'start_server_copy')) return inner.run(ctx, step);
      const online = await onlineProblems(ctx);
      let failure: Error | undefined;
      let result;
      try {
        result = await inner.run(ctx, step);
      } catch (err) {
        if (online.length === 0) throw err;
        failure = err instanceof Error ? err : new Error(String(err));
      }
      if (online.length === 0 && result) return { ...result, detail: { ...result.detail, online: true } };
      const others = failure ? (HEADER.test(failure.message) ? failure.message.replace(HEADER, '').split('\n  ') : [failure.message]) : [];
      const all = [...online, ...others];
      throw new Error(`preflight found ${all.length} problem(s):\n  ${all.join('\n  ')}`, { cause: failure });
    },
  };
}
