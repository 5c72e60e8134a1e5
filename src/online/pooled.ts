import type pg from 'pg';
import type { Pools } from '../pg/pools.js';

/** Runs `work` on a pooled connection of the run (connections are reused: they cost time inside the fence window). */
export async function withClient<T>(pools: Pools, server: string, database: string, work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pools.pool(server, database).connect();
  let failed = false;
  try {
    return await work(c);
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    // A connection that failed mid-way is not given back.
    c.release(failed);
  }
}
