/**
 * Settings every test server gets: logical replication for online mode, room for parallel
 * tests. Two online tests running at once each need about 20 slots, WAL senders and
 * replication workers (subscriptions and their table-sync workers); after a cutover, each
 * split keeps one reverse subscription (and slot) per service until its file's cleanup, so
 * a file of several cutover cases holds dozens at once. The limits leave room for that, or
 * preflight refuses a later case for want of workers.
 */
export const TEST_SERVER_SETTINGS: Readonly<Record<string, string>> = {
  wal_level: 'logical',
  max_replication_slots: '200',
  max_wal_senders: '200',
  max_logical_replication_workers: '150',
  max_worker_processes: '200',
  max_connections: '300',
  // The data may live in memory (/dev/shm, global-setup.ts): WAL kept small, checkpoints are cheap without fsync.
  max_wal_size: '256MB',
  min_wal_size: '64MB',
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  // Replication starts, retries and reports sooner than the defaults allow (5 s, 10 s, 200 ms):
  // before 16 the launcher starts apply workers at most once per wal_retrieve_retry_interval, so a
  // subscription created right after another waited that long; a subscriber's flush position (what
  // a slot confirms) follows the WAL writer when synchronous_commit is off.
  wal_retrieve_retry_interval: '200ms',
  wal_receiver_status_interval: '1s',
  wal_writer_delay: '20ms',
};
