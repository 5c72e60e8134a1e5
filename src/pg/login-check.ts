import pg from 'pg';
import { nodePgConfig } from '../conn/node-pg.js';
import { connectError, isLoginRejected } from './errors.js';

/**
 * Logs in once to each of `ends` (in parallel) and throws the first login a server
 * rejects (wrong password, no such role: exit 2, naming the server and what to check).
 * Anything else (a server down, a database gone) is left to the caller's own checks,
 * which say what they could not do.
 */
export async function refuseRejectedLogins(ends: ReadonlyArray<{ url: string; what: string }>): Promise<void> {
  const failures = await Promise.all(
    ends.map(async ({ url, what }) => {
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
    }),
  );
  const first = failures.find((f) => f !== null);
  if (first) throw first;
}
