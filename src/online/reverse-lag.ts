import type { Plan, StartReverseReplicationStep } from '../plan/model.js';
import type { Pools } from '../pg/pools.js';

/**
 * How far the source's subscription to one service database is behind it, after
 * cutover: `lagBytes` is the WAL written on the target's server since the reverse
 * slot's confirmed position (null when the slot does not exist or the target cannot be read).
 */
export interface ReverseLag {
  service: string;
  server: string;
  database: string;
  slot: string;
  subscription: string;
  exists: boolean;
  active: boolean;
  lagBytes: number | null;
}

/** Lag of the reverse replication of each service database of an online plan, in plan order; only those whose slot exists (empty before cutover and after it ends). */
export async function reverseReplicationLag(pools: Pools, plan: Plan): Promise<ReverseLag[]> {
  const out: ReverseLag[] = [];
  for (const s of plan.steps.filter((x): x is StartReverseReplicationStep => x.kind === 'start_reverse_replication')) {
    const row = await pools
      .pool(s.target.server, s.target.database)
      .query<{ active: boolean; lag: string | null }>(
        `SELECT active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS lag FROM pg_replication_slots WHERE slot_name = $1`,
        [s.slot],
      )
      .then((r) => r.rows[0])
      .catch(() => undefined);
    if (!row) continue;
    out.push({
      service: s.target.service,
      server: s.target.server,
      database: s.target.database,
      slot: s.slot,
      subscription: s.subscription,
      exists: true,
      active: row.active,
      lagBytes: row.lag === null ? null : Math.max(0, Number(row.lag)),
    });
  }
  return out;
}
