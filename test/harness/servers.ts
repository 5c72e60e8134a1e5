import { inject } from 'vitest';
import pg from 'pg';
import { randomBytes } from 'node:crypto';

/** The PostgreSQL servers the integration project started (or was pointed at). */
export interface TestServers {
  /** PostgreSQL 18 (embedded), wal_level=logical. Superuser URL to database `postgres`. */
  main: string;
  /** A second PostgreSQL 18 cluster, for splits onto two servers; null when none (see secondMissing). */
  second: string | null;
  secondMissing: string | null;
  /** PostgreSQL 15 from the system, or null when it is missing (see pg15Missing). */
  pg15: string | null;
  pg15Missing: string | null;
  /** The folder of pg_dump, pg_restore and psql of PostgreSQL 18, or null (see pg18ClientMissing). */
  pg18Client: string | null;
  pg18ClientMissing: string | null;
}

declare module 'vitest' {
  export interface ProvidedContext {
    servers: TestServers;
  }
}

export function servers(): TestServers {
  return inject('servers');
}

/** The second server (another cluster than main), or a loud failure saying what is missing. */
export function second(): string {
  const s = servers();
  if (!s.second) throw new Error(s.secondMissing ?? 'no second PostgreSQL server');
  return s.second;
}

/** The folder of PostgreSQL 18's pg_dump, pg_restore and psql, or a loud failure saying what is missing. */
export function pg18Client(): string {
  const s = servers();
  if (!s.pg18Client) throw new Error(s.pg18ClientMissing ?? 'no PostgreSQL 18 client');
  return s.pg18Client;
}

/** The PostgreSQL 15 server, or a loud failure saying what is missing. */
export function pg15(): string {
  const s = servers();
  if (!s.pg15) throw new Error(s.pg15Missing ?? 'PostgreSQL 15 is not available');
  return s.pg15;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** A short unique prefix for the databases and roles of one test: `t<hex>_`. */
export function uniquePrefix(): string {
  return `t${randomBytes(4).toString('hex')}_`;
}

export async function query<R extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<R[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<R>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

/** Creates an empty database on the server of `serverUrl` and returns its URL. */
export async function createDatabase(serverUrl: string, name: string): Promise<string> {
  await query(serverUrl, `CREATE DATABASE "${name.replaceAll('"', '""')}"`);
  return withDatabase(serverUrl, name);
}
