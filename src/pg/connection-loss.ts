import { serverOf } from '../conn/connection.js';
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
