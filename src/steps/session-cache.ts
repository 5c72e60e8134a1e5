import type pg from 'pg';
import type { Pools } from '../pg/pools.js';

/** Settings of every bulk-load session on a target (pgcopydb's dstSettings): copies and index builds alike. */
export const TARGET_SESSION_SETTINGS: readonly string[] = [
  'SET synchronous_commit = off',
  'SET statement_timeout = 0',
  'SET lock_timeout = 0',
];

/** How long an idle session is kept for the next step before it is closed. */
const IDLE_MS = 300;

interface Idle {
  client: pg.Client;
  timer: NodeJS.Timeout;
}

/**
 * Sessions kept between steps of one run, so that a run of many small tables does
 * not pay a connection (and a snapshot import) per step. A session is handed back
 * only in a known state: a target session outside any transaction with
 * TARGET_SESSION_SETTINGS applied; a source session inside a read-only repeatable
 * read transaction on the given snapshot. Anything that failed is closed instead.
 * Idle sessions close after IDLE_MS, so nothing outlives the run for long.
 */
export class SessionCache {
  private readonly idle = new Map<string, Idle[]>();

  constructor(private readonly pools: Pools) {}

  private take(key: string): pg.Client | undefined {
    const list = this.idle.get(key);
    const item = list?.pop();
    if (!item) return undefined;
    clearTimeout(item.timer);
    return item.client;
  }

  private give(key: string, client: pg.Client): void {
    const list = this.idle.get(key) ?? [];
    const item: Idle = {
      client,
      timer: setTimeout(() => {
        const l = this.idle.get(key);
        const i = l?.indexOf(item) ?? -1;
        if (l && i >= 0) l.splice(i, 1);
        void client.end().catch(() => undefined);
      }, IDLE_MS),
    };
    list.push(item);
    this.idle.set(key, list);
  }

  /** A target session with the bulk-load settings, outside any transaction. */
  async target(server: string, database: string): Promise<pg.Client> {
    const key = `t\u0000${server}\u0000${database}`;
    const cached = this.take(key);
    if (cached) return cached;
    const client = await this.pools.client(server, database);
    try {
      for (const s of TARGET_SESSION_SETTINGS) await client.query(s);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    return client;
  }

  /** Hands a target session back; only call it when the session is outside any transaction. */
  releaseTarget(server: string, database: string, client: pg.Client): void {
    this.give(`t\u0000${server}\u0000${database}`, client);
  }

  /** A source session reading `snapshot` (inside its read-only repeatable read transaction). */
  async source(snapshot: string): Promise<pg.Client> {
    const key = `s\u0000${snapshot}`;
    const cached = this.take(key);
    if (cached) return cached;
    const client = await this.pools.client('source');
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await client.query(`SET TRANSACTION SNAPSHOT '${snapshot.replaceAll("'", "''")}'`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    return client;
  }

  /** Hands a source session back, still in its snapshot transaction. */
  releaseSource(snapshot: string, client: pg.Client): void {
    this.give(`s\u0000${snapshot}`, client);
  }
}

const caches = new WeakMap<Pools, SessionCache>();

/** The session cache of a run (one per Pools instance). */
export function sessionCache(pools: Pools): SessionCache {
  let cache = caches.get(pools);
  if (!cache) {
    cache = new SessionCache(pools);
    caches.set(pools, cache);
  }
  return cache;
}
