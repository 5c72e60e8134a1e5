/**
 * Settings every test server gets: logical replication for online mode, room for parallel
 * tests. Two online tests running at once each need about 20 slots, WAL senders and
 * replication workers (subscriptions and their table-sync workers): the limits leave room
 * for both, or preflight refuses one of them and a table sync fails for want of a slot.
 */
export const TEST_SERVER_SETTINGS: Readonly<Record<string, string>> = {
  wal_level: 'logical',
  max_replication_slots: '100',
  max_wal_senders: '100',
  max_logical_replication_workers: '40',
  max_worker_processes: '64',
  max_connections: '300',
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
};
