/** Settings every test server gets: logical replication for online mode, room for parallel tests. */
export const TEST_SERVER_SETTINGS: Readonly<Record<string, string>> = {
  wal_level: 'logical',
  max_replication_slots: '40',
  max_wal_senders: '40',
  max_logical_replication_workers: '16',
  max_worker_processes: '32',
  max_connections: '300',
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
};
