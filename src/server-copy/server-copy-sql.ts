import { parseKey } from '../catalog/model.js';
import { qname } from '../pg/quote.js';
import type { TargetRef } from '../plan/model.js';
import { startReplicationSql, stopReplicationSql, waitSyncSql, type ReplicationNames } from '../online/replication-sql.js';

/** `TRUNCATE ONLY` of the tables a new subscription is about to fill (rows of an earlier, interrupted one would be copied twice). */
export function emptyTablesSql(tables: string[]): string {
  return `TRUNCATE ONLY ${tables.map((k) => qname(parseKey(k))).join(', ')}`;
}

/** What start_server_copy runs, as the plan shows it. */
export function startServerCopySql(names: ReplicationNames, tables: string[], connection: string, target: TargetRef, sourceDatabase: string): string[] {
  const sql = startReplicationSql(
    names,
    tables.map((key) => ({ key, partitioned: false })),
    connection,
    target,
    sourceDatabase,
  );
  const subscribe = sql.pop()!;
  return [...sql, `${emptyTablesSql(tables)}  -- only when the subscription does not exist yet`, subscribe];
}

/** What wait_server_copy runs, as the plan shows it. */
export function waitServerCopySql(subscription: string, tables: string[]): string[] {
  return [
    '-- on the source (fenced: these counts stay true), while the target copies:',
    ...tables.map((k) => `SELECT count(*) FROM ONLY ${qname(parseKey(k))}`),
    ...waitSyncSql(subscription),
    `SELECT relid::regclass, tuples_processed FROM pg_stat_progress_copy WHERE datname = current_database()  -- rows copied so far`,
  ];
}

export const stopServerCopySql = stopReplicationSql;
