import pg from 'pg';
import { withDatabase, redact } from '../conn/connection.js';
import { ADMIN_SESSION_SQL, nodePgConfig } from '../conn/node-pg.js';

/**
 * A client's `error` event with no listener ends the process ("Unhandled 'error' event").
 * pg-pool listens on its idle clients only, not on the ones checked out: one whose server
 * goes away (a restart, a failover, pg_terminate_backend) between two of its queries
 * would crash the run instead of failing its next query, which the caller reports as a
 * lost connection (exit 3). Every client of `pool` gets a listener for its whole life.
 */
export function keepClientErrorsQuiet(pool: pg.Pool): void {
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
}

/**
 * One pool per (server, database), created on first use and sized for the run's
 * parallelism (copy jobs + the snapshot holder + index workers). Never use
 * `pool.query()` with COPY: take a client with `connect()` and release it.
 */
/**
 * A client whose session starts with ADMIN_SESSION_SQL (row-level security off) before
 * anything else runs on it; pg-pool makes its clients with it (it connects them with a callback).
 */
export class AdminClient extends pg.Client {
  override connect(): Promise<pg.Client>;
  override connect(callback: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): void;
  override connect(callback?: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): Promise<pg.Client> | void {
    const ready = super.connect().then(async () => {
      try {
        await this.query(ADMIN_SESSION_SQL);
      } catch (err) {
        await this.end().catch(() => undefined);
        throw err;
      }
      return this as pg.Client;
    });
    if (!callback) return ready;
    const done = callback as (err: Error | null, c?: pg.Client) => void;
    ready.then((c) => done(null, c), (err: Error) => done(err));
  }
}

export class Pools {
  private readonly pools = new Map<string, pg.Pool>();
  /** Every client connected through a pool, with its URL: what cancelQueries reaches. */
  private readonly live = new Map<pg.Client, string>();

  /**
   * @param servers server name → URL (expanded, secrets included). "source" is the source's server.
   * @param size max clients per pool.
   */
  constructor(
    private readonly servers: Record<string, string>,
    private readonly size = 8,
    private readonly applicationName = 'cloudphone-split',
  ) {}

  serverUrl(server: string): string {
    const url = this.servers[server];
    if (!url) throw new Error(`unknown server "${server}"`);
    return url;
  }

  pool(server: string, database?: string): pg.Pool {
    const base = this.serverUrl(server);
    const url = database ? withDatabase(base, database) : base;
    let p = this.pools.get(url);
    if (!p) {
      p = new pg.Pool(
        nodePgConfig(url, {
          Client: AdminClient,
          max: this.size,
          connectionTimeoutMillis: 30_000,
          idleTimeoutMillis: 10_000,
          application_name: this.applicationName,
        }),
      );
      keepClientErrorsQuiet(p);
      p.on('connect', (client) => this.live.set(client, url));
      p.on('remove', (client) => this.live.delete(client));
      this.pools.set(url, p);
    }
    return p;
  }

  /** A dedicated client outside any pool (snapshot holders, CREATE DATABASE, COPY pairs). */
  async client(server: string, database?: string): Promise<pg.Client> {
    const base = this.serverUrl(server);
    const c = new AdminClient(
      nodePgConfig(database ? withDatabase(base, database) : base, {
        application_name: this.applicationName,
        connectionTimeoutMillis: 30_000,
      }),
    );
    c.on('error', () => undefined);
    await c.connect();
    return c;
  }

  describe(server: string): string {
    return redact(this.serverUrl(server));
  }

  /**
   * Cancels the statement each pooled client runs now (pg_cancel_backend, from a new
   * session of the same role on each server): a client that goes away leaves its query
   * running on the server until it would send rows, which for an aggregate over a big
   * table is its whole run. Returns how many sessions were asked; a server that does not
   * answer is left as it is.
   */
  async cancelQueries(): Promise<number> {
    const byUrl = new Map<string, number[]>();
    for (const [client, url] of this.live) {
      // processID: the backend's pid, set by pg's Client once connected (not in @types/pg).
      const pid = (client as unknown as { processID?: number | null }).processID;
      if (typeof pid === 'number') byUrl.set(url, [...(byUrl.get(url) ?? []), pid]);
    }
    let asked = 0;
    await Promise.all(
      [...byUrl].map(async ([url, pids]) => {
        const c = new pg.Client(nodePgConfig(url, { application_name: this.applicationName, connectionTimeoutMillis: 5_000 }));
        c.on('error', () => undefined);
        try {
          await c.connect();
          await c.query(`SELECT pg_catalog.pg_cancel_backend(pid) FROM unnest($1::int[]) AS pid`, [pids]);
          asked += pids.length;
        } catch {
          // Unreachable or not allowed: the session ends with the client's socket, its statement at its next row.
        } finally {
          await c.end().catch(() => undefined);
        }
      }),
    );
    return asked;
  }

  async end(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.end().catch(() => undefined)));
  }
}
