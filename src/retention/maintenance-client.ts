import pg from 'pg';
import { databaseOf, serverOf, withDatabase } from '../conn/connection.js';
import { connectError } from '../pg/errors.js';
import { ADMIN_SESSION_SQL, nodePgConfig } from '../conn/node-pg.js';

async function connect(url: string): Promise<pg.Client> {
  const c = new pg.Client(nodePgConfig(url, { application_name: 'cloudphone-split', connectionTimeoutMillis: 30_000 }));
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query(ADMIN_SESSION_SQL);
  } catch (err) {
    await c.end().catch(() => undefined);
    throw err;
  }
  return c;
}

/**
 * A session on the server of `serverUrl` that is in none of the databases about to be
 * dropped: the URL's own database unless it is one of `avoid`, else `postgres`, else
 * `template1`. Its transactions are read-write whatever the database's default.
 */
export async function maintenanceClient(serverUrl: string, avoid: readonly string[] = []): Promise<pg.Client> {
  const own = databaseOf(serverUrl);
  const names = [own, 'postgres', 'template1'].filter((d, i, all) => d !== '' && !avoid.includes(d) && all.indexOf(d) === i);
  let last: unknown;
  for (const name of names) {
    try {
      const c = await connect(withDatabase(serverUrl, name));
      await c.query('SET default_transaction_read_only = off');
      return c;
    } catch (err) {
      last = err;
      // 3D000: no such database; 42501: no CONNECT on it. Try the next one.
      const code = (err as { code?: string }).code;
      if (code !== '3D000' && code !== '42501') break;
    }
  }
  throw connectError(last, serverUrl, 'PostgreSQL');
}

/** A session in `database` on the server of `serverUrl`, read-write whatever the database's default. */
export async function databaseClient(serverUrl: string, database: string, what = 'source'): Promise<pg.Client> {
  const url = withDatabase(serverUrl, database);
  let c: pg.Client;
  try {
    c = await connect(url);
  } catch (err) {
    throw connectError(err, url, what);
  }
  await c.query('SET default_transaction_read_only = off');
  return c;
}

export async function serverVersionNum(client: pg.ClientBase): Promise<number> {
  const r = await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
  return Number(r.rows[0]?.v ?? 0);
}

/** True when `url` names `database` on the same server as `serverUrl` (host:port). */
export function sameDatabase(url: string, serverUrl: string, database: string): boolean {
  try {
    return serverOf(url) === serverOf(serverUrl) && databaseOf(url) === database;
  } catch {
    return false;
  }
}
