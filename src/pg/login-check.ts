import pg from 'pg';
import { nodePgConfig } from '../conn/node-pg.js';
import { connectError, isLoginRejected } from './errors.js';
import type { SplitError } from '../errors.js';

/**
 * Logs in once to each of `ends` (in parallel) and throws the first login a server
 * rejects (wrong password, no such role: exit 2, naming the server and what to check).
 * Anything else (a server down, a database gone) is left to the caller's own checks,
 * which say what they could not do.
 */
export async function refuseRejectedLogins(ends: ReadonlyArray<{ url: string; what: string }>): Promise<void> {
  const failures = await Promise.all(ends.map(({ url, what }) => rejectedLogin(url, what)));
  const first = failures.find((f) => f !== null);
  if (first) throw first;
}

/** The error naming a login `url`'s server rejects (wrong password, no such role, pg_hba), or null: it logged in, or failed otherwise (left to what follows). */
export async function rejectedLogin(url: string, what: string): Promise<SplitError | null> {
  const client = new pg.Client(nodePgConfig(url, { application_name: 'cloudphone-split', connectionTimeoutMillis: 10_000 }));
  client.on('error', () => undefined);
  try {
    await client.connect();
    return null;
  } catch (err) {
    return isLoginRejected(err) ? connectError(err, url, what) : null;
  } finally {
    await client.end().catch(() => undefined);
  }
}
