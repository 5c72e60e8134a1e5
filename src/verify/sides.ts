import type pg from 'pg';
import type { VerifyContext } from './check.js';
import { PINNED_SETTINGS } from './checksum-sql.js';
import type { SideQuery } from './bisect.js';

/** A client held in a read-only, repeatable-read transaction with the pinned settings. */
export interface PinnedSide {
  query: SideQuery;
  close(): Promise<void>;
}

export async function openPinned(pool: pg.Pool): Promise<PinnedSide> {
  const client = await pool.connect();
  try {
    // One round trip: the transaction and its settings as one simple-protocol query.
    await client.query(['BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', ...PINNED_SETTINGS].join('; '));
  } catch (err) {
    client.release(true);
    throw err;
  }
  let broken = false;
  return {
    query: async <R extends Record<string, unknown>>(sql: string, params?: unknown[]) => {
      try {
        return (await client.query<R>(sql, params)).rows;
      } catch (err) {
        broken = true;
        throw err;
      }
    },
    async close() {
      if (!broken) {
        try {
          await client.query('COMMIT');
        } catch {
          broken = true;
        }
      }
      client.release(broken ? true : undefined);
    },
  };
}

/** Server version numbers by server name, asked once per run. */
export class ServerVersions {
  private readonly versions = new Map<string, Promise<number>>();

  constructor(private readonly ctx: Pick<VerifyContext, 'pools'>) {}

  of(server: string, database?: string): Promise<number> {
    let v = this.versions.get(server);
    if (!v) {
      const pool = database === undefined ? this.ctx.pools.pool(server) : this.ctx.pools.pool(server, database);
      v = pool.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`).then((r) => Number(r.rows[0]?.v ?? 0));
      this.versions.set(server, v);
    }
    return v;
  }
}
