import pg from 'pg';
import { LockedError, ServerError } from '../errors.js';
import { redact } from '../conn/connection.js';
import { nodePgConfig } from '../conn/node-pg.js';

/** The first key of every split lock: the second is hashtext(split name). */
export const SPLIT_LOCK_NAMESPACE = 'cloudphone-split';

/** The session that holds a split's lock, as far as pg_stat_activity shows it. */
export interface LockHolder {
  pid: number;
  applicationName: string | null;
  clientAddress: string | null;
  user: string | null;
  backendStart: Date | null;
}

export function describeHolder(h: LockHolder): string {
  const parts = [`backend pid ${h.pid}`];
  if (h.applicationName) parts.push(`application "${h.applicationName}"`);
  if (h.user) parts.push(`user ${h.user}`);
  parts.push(h.clientAddress ? `client ${h.clientAddress}` : 'local client');
  if (h.backendStart) parts.push(`connected since ${h.backendStart.toISOString()}`);
  return parts.join(', ');
}

const KEY_SQL = `hashtext($1::text), hashtext($2::text)`;

/**
 * One PostgreSQL advisory lock per split name, in the control database, held by a
 * dedicated session for as long as the run lasts. The server releases it when that
 * session ends, so a killed apply never leaves a stale lock. Invariant: while a
 * `SplitLock` is held, no other apply of the same split can start.
 */
export class SplitLock {
  private released = false;
  private lostError: Error | undefined;

  private constructor(
    readonly name: string,
    private readonly client: pg.Client,
  ) {
    client.on('error', (err) => {
      this.lostError = err;
    });
  }

  /**
   * Takes the lock or throws LockedError naming the session that holds it.
   * @param applicationName shown to a second apply that finds the lock taken.
   */
  static async acquire(controlUrl: string, name: string, applicationName = `cloudphone-split apply ${name}`): Promise<SplitLock> {
    const client = new pg.Client(
      nodePgConfig(controlUrl, {
        application_name: applicationName.slice(0, 63),
        connectionTimeoutMillis: 30_000,
        keepAlive: true,
      }),
    );
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw new ServerError(`cannot connect to the control database ${redact(controlUrl)} to lock split "${name}": ${(err as Error).message}`, undefined, { cause: err });
    }
    try {
      const r = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(${KEY_SQL}) AS locked`, [SPLIT_LOCK_NAMESPACE, name]);
      if (r.rows[0]?.locked) return new SplitLock(name, client);
      const holder = await findHolder(client, name);
      throw new LockedError(
        holder
          ? `another apply of split "${name}" holds the lock: ${describeHolder(holder)}`
          : `another apply of split "${name}" held the lock a moment ago`,
        holder
          ? `wait for it to finish; if that process is gone but its session is not, end it with SELECT pg_terminate_backend(${holder.pid}) on the control database`
          : 'run the command again',
      );
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
  }

  /** False once released or once the lock's session was lost (then the lock is gone too). */
  get held(): boolean {
    return !this.released && this.lostError === undefined;
  }

  /** Throws when the session holding the lock has died: the run must stop. */
  assertHeld(): void {
    if (this.lostError) throw new ServerError(`lost the lock of split "${this.name}": ${this.lostError.message}`);
    if (this.released) throw new Error(`the lock of split "${this.name}" was released`);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    try {
      if (this.lostError === undefined) await this.client.query(`SELECT pg_advisory_unlock(${KEY_SQL})`, [SPLIT_LOCK_NAMESPACE, this.name]);
    } catch {
      // Ending the session below releases it anyway.
    } finally {
      await this.client.end().catch(() => undefined);
    }
  }
}

/** The session holding the split's lock, looked up in pg_locks + pg_stat_activity. */
export async function findHolder(client: pg.ClientBase, name: string): Promise<LockHolder | undefined> {
  const r = await client.query<{
    pid: number;
    application_name: string | null;
    client_addr: string | null;
    usename: string | null;
    backend_start: Date | null;
  }>(
    `SELECT l.pid, a.application_name, host(a.client_addr) AS client_addr, a.usename, a.backend_start
       FROM pg_locks l
       LEFT JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid = hashtext($1::text)::oid AND l.objid = hashtext($2::text)::oid
      LIMIT 1`,
    [SPLIT_LOCK_NAMESPACE, name],
  );
  const row = r.rows[0];
  if (!row) return undefined;
  return {
    pid: row.pid,
    applicationName: row.application_name || null,
    clientAddress: row.client_addr,
    user: row.usename,
    backendStart: row.backend_start,
  };
}

/** The session holding the split's lock in the control database now, if any. */
export async function lockHolder(controlUrl: string, name: string, applicationName = 'cloudphone-split'): Promise<LockHolder | undefined> {
  const client = new pg.Client(nodePgConfig(controlUrl, { application_name: applicationName, connectionTimeoutMillis: 30_000 }));
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await findHolder(client, name);
  } finally {
    await client.end().catch(() => undefined);
  }
}
