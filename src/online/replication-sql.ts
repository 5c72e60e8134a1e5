import { createHash } from 'node:crypto';
import type { TargetRef } from '../plan/model.js';
import { parseKey } from '../catalog/model.js';
import { ident, literal, qname } from '../pg/quote.js';
import { replicationRoleName, replicationRoleSql } from './replication-role.js';

/**
 * Names of the replication objects of one service database. Publication, slot and
 * subscription share one name: `cps_<8 hex of the split name>_<database>_<4 hex>`,
 * lower case, at most 63 bytes, only [a-z0-9_] (what a slot name allows). Every
 * object of one split starts with `replicationPrefix(split)`.
 */
export interface ReplicationNames {
  publication: string;
  subscription: string;
  slot: string;
}

function hex(text: string, n: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, n);
}

/** `cps_<8 hex>_`: the start of every publication, slot and subscription name of the split. */
export function replicationPrefix(split: string): string {
  return `cps_${hex(split, 8)}_`;
}

export function replicationNames(split: string, target: Pick<TargetRef, 'server' | 'database'>): ReplicationNames {
  const db = target.database.toLowerCase().replace(/[^a-z0-9_]+/g, '_').slice(0, 40);
  const name = `${replicationPrefix(split)}${db}_${hex(`${target.server}\0${target.database}`, 4)}`;
  return { publication: name, subscription: name, slot: name };
}

/** A table of the publication: partitioned parents are published whole (via their root). */
export interface PublishedTable {
  key: string;
  partitioned: boolean;
}

/**
 * An explicit table list, never ALL TABLES. A plain table is published ONLY (an
 * inheritance child belongs to whoever owns it); a partitioned table with its
 * partitions, under the root's name, so the target's partitions may differ.
 */
export function createPublicationSql(publication: string, tables: PublishedTable[]): string {
  const list = tables.map((t) => `${t.partitioned ? '' : 'ONLY '}${qname(parseKey(t.key))}`).join(', ');
  return `CREATE PUBLICATION ${ident(publication)} FOR TABLE ${list} WITH (publish_via_partition_root = true)`;
}

/** Created apart from the subscription: CREATE SUBSCRIPTION making its own slot hangs when both ends share a server. */
export function createSlotSql(slot: string): string {
  return `SELECT pg_create_logical_replication_slot(${literal(slot)}, 'pgoutput')`;
}

/** `connection` is the source database's URL as the replication role (at run time) or its manifest text (`${VAR}`, in the plan). */
export function createSubscriptionSql(subscription: string, connection: string, publication: string, slot: string, runAsOwner = false): string {
  return (
    `CREATE SUBSCRIPTION ${ident(subscription)} CONNECTION ${literal(connection)} PUBLICATION ${ident(publication)} ` +
    `WITH (create_slot = false, slot_name = ${literal(slot)}, copy_data = true${runAsOwner ? ', run_as_owner = true' : ''})`
  );
}

/** From PostgreSQL 16 a subscription applies each table's changes as that table's owner, unless told to run as its own. */
export const RUN_AS_OWNER_MIN_VERSION = 160000;

/**
 * Why a subscription runs as its owner (the tool's role) where the server allows it: the
 * tables' owners are the services' roles, which a table's FORCE ROW LEVEL SECURITY policies
 * bind ("cannot replicate into relation with row-level security enabled", every change
 * refused while the copy looks fine); the tool's role is superuser or BYPASSRLS (preflight).
 */
export const RUN_AS_OWNER_NOTE = '-- with run_as_owner = true where the server is PostgreSQL 16 or later: the changes are applied as the tool\'s role, not as each table\'s owner, whom row-level security may bind';

/** Statement timeout for the replication set-up statements (a slot waits for running transactions). */
export const SETUP_TIMEOUT = '120s';

/** What start_replication runs, in order, as the plan shows it. */
export function startReplicationSql(
  names: ReplicationNames,
  tables: PublishedTable[],
  connection: string,
  target: TargetRef,
  sourceDatabase: string,
): string[] {
  const role = replicationRoleName(names.publication);
  return [
    '-- on the source database:',
    `SET statement_timeout = '${SETUP_TIMEOUT}'`,
    createPublicationSql(names.publication, tables),
    createSlotSql(names.slot),
    '-- the role the subscription logs in as (never the admin):',
    ...replicationRoleSql(names.publication, sourceDatabase, tables.map((t) => t.key)),
    `-- on ${target.database} (server ${target.server}):`,
    `SET statement_timeout = '${SETUP_TIMEOUT}'`,
    createSubscriptionSql(names.subscription, `${connection} as user ${role} password ***`, names.publication, names.slot),
    RUN_AS_OWNER_NOTE,
  ];
}

export function waitSyncSql(subscription: string): string[] {
  return [
    `-- on the target, every ${WAIT_POLL_MS} ms until every table is ready ('r'):`,
    `SELECT r.srsubstate, count(*) FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = ${literal(subscription)} GROUP BY 1`,
  ];
}

/** Poll interval of wait_sync: a copy that is done is noticed within a tenth of a second, at three small catalog reads a poll. */
export const WAIT_POLL_MS = 100;

/** Teardown on the target: the slot is detached first, so DROP SUBSCRIPTION never needs the source. */
export function dropSubscriptionSql(subscription: string): string[] {
  return [
    `ALTER SUBSCRIPTION ${ident(subscription)} DISABLE`,
    `ALTER SUBSCRIPTION ${ident(subscription)} SET (slot_name = NONE)`,
    `DROP SUBSCRIPTION ${ident(subscription)}`,
  ];
}

/** What stop_replication runs (inside the cutover window), as the plan shows it. */
export function stopReplicationSql(names: ReplicationNames, target: TargetRef): string[] {
  return [`-- on ${target.database} (server ${target.server}):`, ...dropSubscriptionSql(names.subscription)];
}

/** What release_replication runs (once the services are switched), as the plan shows it. */
export function releaseReplicationSql(names: ReplicationNames): string[] {
  return [
    '-- on the source database, once the slot is no longer active:',
    `SELECT pg_drop_replication_slot(${literal(names.slot)})`,
    `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'pg\\_<subscription oid>\\_sync\\_%'  -- leftover table-sync slots`,
    `DROP PUBLICATION IF EXISTS ${ident(names.publication)}`,
    `-- the replication role, its grants revoked first, if its comment says it is this split's:`,
    `DROP ROLE ${ident(replicationRoleName(names.publication))}`,
  ];
}
