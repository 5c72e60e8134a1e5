/** Online mode (logical replication): what other commands use. */
export { dropReplication, dropReplicationOf, type DropReport, type ReplicationObjects } from './drop-replication.js';
export { replicationLag, type ReplicationLag } from './replication-lag.js';
export { replicationNames, replicationPrefix, type ReplicationNames } from './replication-sql.js';
export { replicatedTables } from './replicated-tables.js';
