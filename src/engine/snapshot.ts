import type pg from 'pg';
import type { Pools } from '../pg/pools.js';

/** A client the holder owns: it ends it on close. */
export type OwnedClient = pg.ClientBase & { end(): Promise<void> };

/**
 * Holds one exported snapshot of the source for a whole run: a dedicated session in
 * an open REPEATABLE READ, READ ONLY transaction that stays idle until `close()`.
 * Readers import it with `SET TRANSACTION SNAPSHOT '<id>'` at the start of their own
 * REPEATABLE READ transaction and all see the same data. Invariant: `id()` always
 * returns the same snapshot once one was taken; the snapshot is valid until `close()`.
 */
export class SnapshotHolder {
  private client: OwnedClient | undefined;
  private pending: Promise<string> | undefined;
  private closed = false;

  constructor(private readonly connect: () => Promise<OwnedClient>) {}

  /** A holder on a dedicated connection to `server` ("source" by default) of `pools`. */
  static forPools(pools: Pools, server = 'source', database?: string): SnapshotHolder {
    return new SnapshotHolder(() => pools.client(server, database));
  }

  /** The snapshot id, taken on first call. */
  id(): Promise<string> {
    if (this.closed) return Promise.reject(new Error('the snapshot holder is closed'));
    if (!this.pending) {
      this.pending = this.take();
      // A failed attempt may be retried by the next caller.
      this.pending.catch(() => {
        this.pending = undefined;
      });
    }
    return this.pending;
  }

  get taken(): boolean {
    return this.client !== undefined;
  }

  private async take(): Promise<string> {
    const client = await this.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      await client.query('SET LOCAL idle_in_transaction_session_timeout = 0');
      await client.query('SET LOCAL statement_timeout = 0');
      const r = await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id');
      const id = r.rows[0]?.id;
      if (!id) throw new Error('pg_export_snapshot() returned nothing');
      if (this.closed) throw new Error('the snapshot holder was closed while taking the snapshot');
      this.client = client;
      return id;
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
  }

  /** Ends the transaction and the session: the snapshot can no longer be imported. */
  async close(): Promise<void> {
    this.closed = true;
    await this.pending?.catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    await client.query('ROLLBACK').catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}
