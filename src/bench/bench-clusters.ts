import pg from 'pg';
import { startLocalCluster, type LocalCluster } from '../pg/cluster.js';
import { withDatabase } from '../conn/connection.js';
import { PG15_BIN } from './shell.js';

/** Settings of both clusters: the same on each, so that only the tools differ. */
export const BENCH_SETTINGS: Readonly<Record<string, string>> = {
  fsync: 'on',
  wal_level: 'replica',
  max_wal_size: '20GB',
  min_wal_size: '1GB',
  checkpoint_timeout: '1h',
  autovacuum: 'off',
  shared_buffers: '512MB',
  max_connections: '100',
};

/** The source and target clusters of one benchmark, both PostgreSQL 15 from the system. */
export interface BenchClusters {
  source: LocalCluster;
  target: LocalCluster;
  version: string;
  stop(): Promise<void>;
}

export async function startBenchClusters(binDir = PG15_BIN): Promise<BenchClusters> {
  const source = await startLocalCluster({ binDir, settings: { ...BENCH_SETTINGS } });
  let target: LocalCluster;
  try {
    target = await startLocalCluster({ binDir, settings: { ...BENCH_SETTINGS } });
  } catch (err) {
    await source.stop();
    throw err;
  }
  const version = (await sql<{ v: string }>(source.url, 'SELECT version() AS v'))[0]!.v;
  return {
    source,
    target,
    version,
    async stop() {
      await Promise.all([source.stop(), target.stop()]);
    },
  };
}

/** One query on a short-lived connection. */
export async function sql<R extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return (await c.query<R>(text, params)).rows;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Drops the given databases (connections forced off) and checkpoints the cluster. */
export async function resetDatabases(serverUrl: string, databases: readonly string[]): Promise<void> {
  for (const d of databases) await sql(serverUrl, `DROP DATABASE IF EXISTS "${d.replaceAll('"', '""')}" WITH (FORCE)`);
  await sql(serverUrl, 'CHECKPOINT');
}

export async function createDatabases(serverUrl: string, databases: readonly string[]): Promise<void> {
  for (const d of databases) await sql(serverUrl, `CREATE DATABASE "${d.replaceAll('"', '""')}"`);
}

export async function walLsn(serverUrl: string): Promise<string> {
  return (await sql<{ lsn: string }>(serverUrl, 'SELECT pg_current_wal_lsn()::text AS lsn'))[0]!.lsn;
}

export async function walBytesSince(serverUrl: string, lsn: string): Promise<number> {
  const r = await sql<{ n: string }>(serverUrl, 'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::text AS n', [lsn]);
  return Number(r[0]!.n);
}

export { withDatabase };
