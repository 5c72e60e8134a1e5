import pg from 'pg';
import { serverOf, withDatabase } from '../conn/connection.js';
import { nodePgConfig } from '../conn/node-pg.js';
import type { Pools } from './pools.js';

/** Node socket errors that mean the server could not be reached or the connection broke. */
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Whether `err` says the connection itself failed (the server went away, was shut
 * down, or ended the session) rather than a statement: network errors, SQLSTATE
 * class 08 (connection exception) and 57P01-57P03 (shutdown, terminated), and the
 * driver's "Connection terminated" and "Client has encountered a connection error and
 * is not queryable" (a query sent on a client whose socket already failed).
 */
export function isConnectionLoss(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  return NETWORK_CODES.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code) || /^Connection terminated|connection error and is not queryable/.test(message);
}

/**
 * Which of a step's ends does not answer now, after a lost connection: the step's target
 * first, then the source (a step reads from both, and the journal often lives on the
 * source's server). Each is asked with a short connect; the first that fails is named,
 * else the target (both answer again: a restart that is over, a session ended).
 */
export async function brokenEnd(pools: Pools, target: { server: string; database?: string } | null): Promise<{ server: string; database?: string }> {
  const ends: Array<{ server: string; database?: string }> = [...(target ? [target] : []), { server: 'source' }];
  for (const end of ends) {
    const base = pools.serverUrl(end.server);
    const client = new pg.Client(nodePgConfig(end.database ? withDatabase(base, end.database) : base, { connectionTimeoutMillis: 3_000, application_name: 'cloudphone-split' }));
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch {
      return end;
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return ends[0]!;
}

/** `database "x" on server "name" (host:port)`: where a connection went, without credentials. */
export function describeEnd(pools: Pools, server: string, database?: string): string {
  let address = '';
  try {
    address = ` (${serverOf(pools.serverUrl(server))})`;
  } catch {
    // An unknown server name: the name alone says enough.
  }
  const side = server === 'source' ? 'the source server' : `server "${server}"`;
  return database ? `database ${database} on ${side}${address}` : `${side}${address}`;
}

/**
 * The same failure, saying which connection broke and while doing what; other errors
 * are returned as they are (their SQLSTATE may matter to the caller).
 */
export function connectionLoss(err: unknown, where: string, doing: string): unknown {
  if (!isConnectionLoss(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown }).code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return new Error(`cannot reach ${where} while ${doing} (${message}): is the server running, and is the address right?`, { cause: err });
  }
  return new Error(`lost the connection to ${where} while ${doing} (${message}): the server went away or ended the session`, { cause: err });
}
