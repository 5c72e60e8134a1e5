import type pg from 'pg';
import type { Plan, StartReplicationStep, StartReverseReplicationStep, StartServerCopyStep, TargetRef } from '../plan/model.js';
import type { Pools } from '../pg/pools.js';
import { ident } from '../pg/quote.js';
import { dropSubscriptionSql } from './replication-sql.js';
import { pause } from './pause.js';
import { withClient } from './pooled.js';
import { dropReplicationRole, replicationRoleName } from './replication-role.js';

/** The replication objects of one service database (as start_replication names them). */
export interface ReplicationObjects {
  target: TargetRef;
  publication: string;
  subscription: string;
  slot: string;
}

/** What a teardown removed, as `kind name` strings (`subscription x`, `slot y`...). */
export interface DropReport {
  dropped: string[];
  /** Milliseconds spent on the subscriber's side and on the publisher's (where the time of a teardown goes). */
  subscriberMs?: number;
  publisherMs?: number;
  /** The oid of the subscription dropped (its table-sync slots are named after it). */
  subscriptionOid?: number | null;
}

/** How long a slot may stay active after its subscription is gone before its WAL sender is terminated. */
const INACTIVE_WAIT_MS = 10_000;

async function waitInactive(src: pg.ClientBase, slots: string[]): Promise<void> {
  if (slots.length === 0) return;
  const active = async () =>
    (await src.query<{ pid: number | null }>(`SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = ANY ($1::text[]) AND active`, [slots])).rows;
  const until = Date.now() + INACTIVE_WAIT_MS;
  while ((await active()).length > 0 && Date.now() < until) await pause(50);
  const left = await active();
  if (left.length === 0) return;
  for (const { pid } of left) if (pid !== null) await src.query(`SELECT pg_terminate_backend($1)`, [pid]);
  const again = Date.now() + INACTIVE_WAIT_MS;
  while ((await active()).length > 0 && Date.now() < again) await pause(50);
}

/** One end of a replication: a server of the plan and a database on it (absent: the source database). */
interface End {
  server: string;
  database?: string;
}

/** A client of `end`, or null when its database does not exist (nothing of the replication can be there). */
async function clientOf(pools: Pools, end: End): Promise<pg.Client | null> {
  try {
    return await pools.client(end.server, end.database);
  } catch (err) {
    if ((err as { code?: string }).code === '3D000') return null;
    throw err;
  }
}

async function dropSubscriptionAt(pools: Pools, end: End, subscription: string, report: DropReport): Promise<number | null> {
  const dst = await clientOf(pools, end);
  if (!dst) return null;
  try {
    // The source may already be a read-only backup (schedule_retention).
    await dst.query('SET default_transaction_read_only = off');
    const r = await dst.query<{ oid: number }>(
      `SELECT oid::int AS oid FROM pg_subscription WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [subscription],
    );
    const oid = r.rows[0]?.oid ?? null;
    if (oid === null) return null;
    for (const s of dropSubscriptionSql(subscription)) await dst.query(s);
    report.dropped.push(`subscription ${subscription}`);
    return oid;
  } finally {
    await dst.end();
  }
}

async function dropPublisherSide(pools: Pools, end: End, o: { slot: string; publication: string }, oid: number | null, report: DropReport): Promise<void> {
  const src = await clientOf(pools, end);
  if (!src) return;
  try {
    // The source may already be a read-only backup (schedule_retention).
    await src.query('SET default_transaction_read_only = off');
    const pattern = oid === null ? null : `pg\\_${oid}\\_sync\\_%`;
    const slots = (
      await src.query<{ slot: string }>(
        `SELECT slot_name::text AS slot FROM pg_replication_slots WHERE slot_name = $1 OR ($2::text IS NOT NULL AND slot_name LIKE $2::text)`,
        [o.slot, pattern],
      )
    ).rows.map((r) => r.slot);
    await waitInactive(src, slots);
    for (const slot of slots) {
      await src.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
      report.dropped.push(`slot ${slot}`);
    }
    const pub = await src.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [o.publication]);
    if (pub.rowCount) {
      await src.query(`DROP PUBLICATION IF EXISTS ${ident(o.publication)}`);
      report.dropped.push(`publication ${o.publication}`);
    }
    // After the subscription and its slots: nothing logs in as it any more.
    if (await dropReplicationRole(src, o.publication)) report.dropped.push(`role ${replicationRoleName(o.publication)}`);
  } finally {
    await src.end();
  }
}

/**
 * Tears down one service's replication cleanly, in the order that never needs the
 * source from the target's side: on the target the subscription is disabled, detached
 * from its slot and dropped; on the source, once no WAL sender uses them, the slot,
 * the table-sync slots the subscription left (`pg_<oid>_sync_...`), the publication
 * and the subscription's replication role are dropped. Each object is dropped only if it exists: safe to run again.
 */
export async function dropReplicationOf(pools: Pools, o: ReplicationObjects): Promise<DropReport> {
  const report: DropReport = { dropped: [] };
  const t0 = Date.now();
  const oid = await dropSubscriptionAt(pools, { server: o.target.server, database: o.target.database }, o.subscription, report);
  const t1 = Date.now();
  await dropPublisherSide(pools, { server: 'source' }, o, oid, report);
  return { ...report, subscriberMs: t1 - t0, publisherMs: Date.now() - t1 };
}

/**
 * The subscriber's side only (cutover's stop_replication, inside the window): the
 * subscription disabled, detached from its slot and dropped, which stops its apply
 * worker before it returns. The source's side (releaseReplicationOf) can wait until the
 * services are switched: an inactive slot only keeps WAL a little longer.
 */
export async function stopSubscriptionOf(pools: Pools, o: ReplicationObjects): Promise<DropReport> {
  const report: DropReport = { dropped: [] };
  const t0 = Date.now();
  // On a pooled connection of the run (a new one costs time inside the window); the target is never read-only.
  const oid = await withClient(pools, o.target.server, o.target.database, async (dst) => {
    const r = await dst.query<{ oid: number }>(
      `SELECT oid::int AS oid FROM pg_subscription WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [o.subscription],
    );
    const found = r.rows[0]?.oid ?? null;
    if (found === null) return null;
    for (const q of dropSubscriptionSql(o.subscription)) await dst.query(q);
    report.dropped.push(`subscription ${o.subscription}`);
    return found;
  }).catch((err: unknown) => {
    // A target database that is gone holds no subscription.
    if ((err as { code?: string }).code === '3D000') return null;
    throw err;
  });
  return { ...report, subscriptionOid: oid, subscriberMs: Date.now() - t0 };
}

/**
 * The source's side of a forward replication whose subscription is gone: its slot, the
 * table-sync slots it left (`pg_<oid>_sync_...`, when the dropped subscription's oid is
 * known), its publication and its role. Each only if it exists: safe to run again.
 */
export async function releaseReplicationOf(pools: Pools, o: ReplicationObjects, subscriptionOid: number | null): Promise<DropReport> {
  const report: DropReport = { dropped: [] };
  const t0 = Date.now();
  await dropPublisherSide(pools, { server: 'source' }, o, subscriptionOid, report);
  return { ...report, publisherMs: Date.now() - t0 };
}

/**
 * The same for the reverse replication of one service database (after cutover): the
 * subscription on the source first, then the slot, publication and replication role on
 * the target. Safe to run again; a target database that is gone holds nothing.
 */
export async function dropReverseReplicationOf(pools: Pools, o: ReplicationObjects): Promise<DropReport> {
  const report: DropReport = { dropped: [] };
  const oid = await dropSubscriptionAt(pools, { server: 'source' }, o.subscription, report);
  await dropPublisherSide(pools, { server: o.target.server, database: o.target.database }, o, oid, report);
  return report;
}

/**
 * Drops every subscription, slot and publication the plan's start_replication,
 * start_server_copy and start_reverse_replication steps create (those that exist), service by service. For `rollback` of an online split and
 * for anyone cleaning up after one: nothing else is touched.
 */
export async function dropReplication(pools: Pools, plan: Plan): Promise<DropReport> {
  const report: DropReport = { dropped: [] };
  // Reverse replication first: its subscription lives in the source database.
  for (const s of plan.steps.filter((x): x is StartReverseReplicationStep => x.kind === 'start_reverse_replication')) {
    const r = await dropReverseReplicationOf(pools, s);
    report.dropped.push(...r.dropped);
  }
  // copy: server leaves its objects only when a run stopped before stop_server_copy.
  for (const s of plan.steps.filter((x): x is StartReplicationStep | StartServerCopyStep => x.kind === 'start_replication' || x.kind === 'start_server_copy')) {
    const r = await dropReplicationOf(pools, s);
    report.dropped.push(...r.dropped);
  }
  return report;
}
