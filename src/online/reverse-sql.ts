import { rejectWritesFunctionSql } from '../pg/reject-writes.js';
import { createHash } from 'node:crypto';
import type { ReverseTable, TargetRef } from '../plan/model.js';
import { parseKey } from '../catalog/model.js';
import { ident, literal, qname } from '../pg/quote.js';
import { RUN_AS_OWNER_NOTE, replicationPrefix, type ReplicationNames, SETUP_TIMEOUT, createSlotSql, dropSubscriptionSql } from './replication-sql.js';
import { replicationRoleName, replicationRoleSql } from './replication-role.js';

/** The infix of every reverse replication object: `cps_<8 hex>_rev_...`. */
export const REVERSE_INFIX = 'rev_';

/**
 * Names of the reverse replication of one service database (target → source):
 * `cps_<8 hex of the split name>_rev_<database>_<4 hex>`, at most 63 bytes, only
 * [a-z0-9_]. They start with `replicationPrefix(split) + 'rev_'`, which the source's
 * fence lets through (see fence-source.ts).
 */
export function reverseReplicationNames(split: string, target: Pick<TargetRef, 'server' | 'database'>): ReplicationNames {
  const db = target.database.toLowerCase().replace(/[^a-z0-9_]+/g, '_').slice(0, 40);
  const h = createHash('sha256').update(`reverse\0${target.server}\0${target.database}`).digest('hex').slice(0, 4);
  const name = `${replicationPrefix(split)}${REVERSE_INFIX}${db}_${h}`;
  return { publication: name, subscription: name, slot: name };
}

/** The lowest server version whose publications take column lists. */
export const COLUMN_LIST_MIN_VERSION = 150000;

/** True when a publication of these tables needs column lists (PostgreSQL 15+ on the publishing side). */
export function needsColumnLists(tables: readonly ReverseTable[]): boolean {
  return tables.some((t) => t.columns !== null);
}

/** The target's publication: an explicit list, with column lists where the target holds denormalized columns the source lacks. */
export function createReversePublicationSql(publication: string, tables: readonly ReverseTable[]): string {
  const list = tables
    .map((t) => `${t.partitioned ? '' : 'ONLY '}${qname(parseKey(t.table))}${t.columns ? ` (${t.columns.map(ident).join(', ')})` : ''}`)
    .join(', ');
  return `CREATE PUBLICATION ${ident(publication)} FOR TABLE ${list} WITH (publish_via_partition_root = true)`;
}

/**
 * On the source: no initial copy (the source holds every row already), the slot made on
 * the target beforehand, disabled until the slot has skipped what is not to go back.
 */
export function createReverseSubscriptionSql(subscription: string, connection: string, publication: string, slot: string, runAsOwner = false): string {
  return (
    `CREATE SUBSCRIPTION ${ident(subscription)} CONNECTION ${literal(connection)} PUBLICATION ${ident(publication)} ` +
    `WITH (create_slot = false, slot_name = ${literal(slot)}, copy_data = false, enabled = false${runAsOwner ? ', run_as_owner = true' : ''})`
  );
}

/** What start_reverse_replication runs, as the plan shows it. */
export function startReverseSql(names: ReplicationNames, tables: readonly ReverseTable[], target: TargetRef, sourceDatabase: string): string[] {
  const role = replicationRoleName(names.publication);
  return [
    `-- on ${target.database} (server ${target.server}):`,
    `SET statement_timeout = '${SETUP_TIMEOUT}'`,
    createReversePublicationSql(names.publication, tables),
    createSlotSql(names.slot),
    '-- the role the source\'s subscription logs in as (never the admin):',
    ...replicationRoleSql(names.publication, target.database, tables.map((t) => t.table)),
    `-- on the source database ${sourceDatabase}:`,
    `SET statement_timeout = '${SETUP_TIMEOUT}'`,
    createReverseSubscriptionSql(names.subscription, `<${target.server} server, database ${target.database}> as user ${role} password ***`, names.publication, names.slot),
    RUN_AS_OWNER_NOTE,
    `-- on ${target.database}, once its forward subscription is gone: skip every change made there so far`,
    `SELECT pg_replication_slot_advance(${literal(names.slot)}, pg_current_wal_insert_lsn())  -- once that WAL is flushed`,
    `-- on the source database ${sourceDatabase}:`,
    `ALTER SUBSCRIPTION ${ident(names.subscription)} ENABLE`,
  ];
}

/** What stop_reverse_replication runs, as the plan shows it. */
export function stopReverseSql(names: ReplicationNames, target: TargetRef): string[] {
  return [
    '-- on the source database:',
    ...dropSubscriptionSql(names.subscription),
    `-- on ${target.database} (server ${target.server}), once the slot is no longer active:`,
    `SELECT pg_drop_replication_slot(${literal(names.slot)})`,
    `DROP PUBLICATION IF EXISTS ${ident(names.publication)}`,
    `-- the replication role, its grants revoked first, if its comment says it is this split's:`,
    `DROP ROLE ${ident(replicationRoleName(names.publication))}`,
  ];
}

/** What reverse_catch_up runs, as the plan shows it. */
export function reverseCatchUpSql(slot: string, target: TargetRef): string[] {
  return [
    `-- on ${target.database} (server ${target.server}), once, after its fence:`,
    'SELECT pg_current_wal_insert_lsn()  -- every write acknowledged by the target before its fence is below it',
    '-- then, until the source\'s subscription has confirmed it:',
    `SELECT confirmed_flush_lsn >= '<fence position>'::pg_lsn FROM pg_replication_slots WHERE slot_name = ${literal(slot)}`,
  ];
}

export const TARGET_FENCE_SCHEMA = 'cloudphone_split';
export const TARGET_FENCE_TRIGGER = 'cloudphone_split_fence';
/** The row fence of a moved partition tree's root in the target: cloned onto partitions made there later (a service's job during the rollback). */
export const TARGET_FENCE_ROWS_TRIGGER = 'cloudphone_split_fence_rows';

/**
 * The fence of a target after a rollback through reverse replication: a statement
 * trigger on each moved table (ENABLE ALWAYS: replica-mode sessions too) that rejects
 * INSERT, UPDATE, DELETE and TRUNCATE, naming the source database the writes belong to again.
 */
export function fenceTargetSql(split: string, sourceDatabase: string, tables: readonly string[], roots: ReadonlySet<string> = new Set()): string[] {
  const fn = `${ident(TARGET_FENCE_SCHEMA)}."rolled_back"`;
  const sql = [
    `SET LOCAL lock_timeout = '60s'`,
    `CREATE SCHEMA IF NOT EXISTS ${ident(TARGET_FENCE_SCHEMA)}`,
    rejectWritesFunctionSql(
      fn,
      'fence',
      'table %I.%I has gone back to database %s: write there instead (cloudphone-split rolls back split %s)',
      'the service uses the old shared database again; repoint the writer',
    ),
  ];
  for (const table of tables) {
    const t = qname(parseKey(table));
    sql.push(
      `DROP TRIGGER IF EXISTS ${ident(TARGET_FENCE_TRIGGER)} ON ${t}`,
      `CREATE TRIGGER ${ident(TARGET_FENCE_TRIGGER)} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${t} FOR EACH STATEMENT EXECUTE FUNCTION ${fn}(${literal(sourceDatabase)}, ${literal(split)})`,
      `ALTER TABLE ${t} ENABLE ALWAYS TRIGGER ${ident(TARGET_FENCE_TRIGGER)}`,
    );
    if (roots.has(table)) {
      sql.push(
        `DROP TRIGGER IF EXISTS ${ident(TARGET_FENCE_ROWS_TRIGGER)} ON ${t}`,
        `CREATE TRIGGER ${ident(TARGET_FENCE_ROWS_TRIGGER)} BEFORE INSERT OR UPDATE OR DELETE ON ${t} FOR EACH ROW EXECUTE FUNCTION ${fn}(${literal(sourceDatabase)}, ${literal(split)})`,
        `ALTER TABLE ${t} ENABLE ALWAYS TRIGGER ${ident(TARGET_FENCE_ROWS_TRIGGER)}`,
      );
    }
  }
  return sql;
}
