import type { Plan, StartReplicationStep } from '../plan/model.js';
import type { Pools } from '../pg/pools.js';

/**
 * How far one service's subscription is behind the source. `lagBytes` is the WAL
 * written on the source server since the slot's confirmed position (null when the
 * slot does not exist: replication not started, or already stopped); `syncing` counts
 * the tables still in their initial copy (null when the target cannot be read).
 */
export interface ReplicationLag {
  service: string;
  server: string;
  database: string;
  slot: string;
  subscription: string;
  exists: boolean;
  active: boolean;
  lagBytes: number | null;
  syncing: number | null;
  /**
   * Changes and initial copies the subscription failed to apply so far (pg_stat_subscription_stats,
   * PostgreSQL 15 and later: a constraint or row-level security refusing them), its worker
   * retrying the same change; null where the target cannot say.
   */
  errors: number | null;
}

async function targetSide(pools: Pools, s: StartReplicationStep): Promise<{ syncing: number | null; errors: number | null }> {
  try {
    const client = await pools.client(s.target.server, s.target.database);
    try {
      const r = await client.query<{ n: number; v: number }>(
        `SELECT (count(*) FILTER (WHERE r.srsubstate <> 'r'))::int AS n, current_setting('server_version_num')::int AS v
           FROM pg_subscription s JOIN pg_subscription_rel r ON r.srsubid = s.oid
          WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [s.subscription],
      );
      const row = r.rows[0];
      let errors: number | null = null;
      if (row && row.v >= 150000) {
        const e = await client.query<{ n: number }>(`SELECT (apply_error_count + sync_error_count)::int AS n FROM pg_stat_subscription_stats WHERE subname = $1`, [s.subscription]);
        errors = e.rows[0]?.n ?? 0;
      }
      return { syncing: row?.n ?? null, errors };
    } finally {
      await client.end();
    }
  } catch {
    return { syncing: null, errors: null };
  }
}

/** Lag of every subscription of an online plan, in plan order (empty for an offline plan). */
export async function replicationLag(pools: Pools, plan: Plan): Promise<ReplicationLag[]> {
  const starts = plan.steps.filter((s): s is StartReplicationStep => s.kind === 'start_replication');
  if (starts.length === 0) return [];
  const r = await pools.pool('source').query<{ slot: string; active: boolean; lag: string | null }>(
    `SELECT slot_name::text AS slot, active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS lag
       FROM pg_replication_slots WHERE slot_name = ANY ($1::text[])`,
    [starts.map((s) => s.slot)],
  );
  const out: ReplicationLag[] = [];
  for (const s of starts) {
    const row = r.rows.find((x) => x.slot === s.slot);
    out.push({
      service: s.target.service,
      server: s.target.server,
      database: s.target.database,
      slot: s.slot,
      subscription: s.subscription,
      exists: row !== undefined,
      active: row?.active ?? false,
      lagBytes: row?.lag === null || row?.lag === undefined ? null : Math.max(0, Number(row.lag)),
      ...(await targetSide(pools, s)),
    });
  }
  return out;
}
