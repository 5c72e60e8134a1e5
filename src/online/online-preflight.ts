import type { StartReplicationStep, StartReverseReplicationStep, StartServerCopyStep } from '../plan/model.js';
import { columnListRefusal } from '../steps/start-reverse-replication.js';
import type { StepContext, StepHandler } from '../steps/handler.js';

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
            r.rolsuper AS superuser, r.rolreplication AS replication,
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
    if (!source.superuser && !source.replication) {
      problems.push(`server source: the role connecting lacks REPLICATION (needed to create slots): ALTER ROLE ... REPLICATION, or connect as a superuser`);
    }
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
