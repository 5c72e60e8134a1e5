import type { Plan, StartReverseReplicationStep } from '../plan/model.js';
import type { Pools } from '../pg/pools.js';
import { movedTablesOf, partitionsSinceCutover, treeFacts, type NewPartition } from '../rollback/target-partitions.js';
import { copiedBackTables } from '../rollback/source-since-cutover.js';

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
  /**
   * Partitions made in the service database since cutover, holding rows, whose tree the
   * subscription carries and the source has no partition (nor DEFAULT) for: the
   * subscription stops at their first row, and every later write of that database waits
   * behind it (the slot keeps the new database's WAL meanwhile).
   */
  stuckOn?: NewPartition[];
}

/** `stuckOn` of one service database (empty when it cannot be read: status shows what it can). */
async function stuckOn(pools: Pools, plan: Plan, s: StartReverseReplicationStep): Promise<NewPartition[]> {
  const svc = plan.services.find((x) => x.server === s.target.server && x.database === s.target.database);
  if (!svc) return [];
  const src = await pools.client('source');
  try {
    const dst = await pools.client(s.target.server, s.target.database);
    try {
      const since = await partitionsSinceCutover(src, dst, svc.database, svc.tables.map((t) => t.name), movedTablesOf(plan, svc.database));
      const facts = await treeFacts(src, [...new Set(since.missing.map((m) => m.root))], copiedBackTables(plan));
      return since.missing.filter((m) => !facts.get(m.root)?.hasDefault && !facts.get(m.root)?.copiedBack);
    } finally {
      await dst.end().catch(() => undefined);
    }
  } finally {
    await src.end().catch(() => undefined);
  }
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
    const stuck = await stuckOn(pools, plan, s).catch(() => []);
    out.push({
      service: s.target.service,
      server: s.target.server,
      database: s.target.database,
      slot: s.slot,
      subscription: s.subscription,
      exists: true,
      active: row.active,
      lagBytes: row.lag === null ? null : Math.max(0, Number(row.lag)),
      ...(stuck.length > 0 ? { stuckOn: stuck } : {}),
    });
  }
  return out;
}
