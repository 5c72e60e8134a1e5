import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { servers, query, uniquePrefix, createDatabase } from '../harness/servers.js';
import { SnapshotHolder } from '../../src/engine/snapshot.js';
import { Pools } from '../../src/pg/pools.js';

const prefix = uniquePrefix();
let url: string;

beforeAll(async () => {
  url = await createDatabase(servers().main, `${prefix}source`);
  await query(url, `CREATE TABLE t (id int PRIMARY KEY)`);
  await query(url, `INSERT INTO t VALUES (1), (2)`);
});
afterAll(async () => {
  await query(servers().main, `DROP DATABASE IF EXISTS "${prefix}source" WITH (FORCE)`);
});

async function countInSnapshot(snapshot: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await c.query(`SET TRANSACTION SNAPSHOT '${snapshot}'`);
    const r = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM t');
    await c.query('COMMIT');
    return r.rows[0]!.n;
  } finally {
    await c.end();
  }
}

describe('SnapshotHolder', () => {
  it('rows inserted after the snapshot are invisible to readers that import it', async () => {
    const pools = new Pools({ source: url });
    const holder = SnapshotHolder.forPools(pools);
    try {
      expect(holder.taken).toBe(false);
      const [id, same] = await Promise.all([holder.id(), holder.id()]);
      expect(id).toMatch(/^[0-9A-F]+-[0-9A-F]+-\d+$/);
      expect(same).toBe(id);
      await query(url, `INSERT INTO t VALUES (3), (4), (5)`);
      expect(await countInSnapshot(id)).toBe(2);
      expect(await countInSnapshot(id)).toBe(2);
      const [now] = await query<{ n: number }>(url, 'SELECT count(*)::int AS n FROM t');
      expect(now!.n).toBe(5);
      const [holderSession] = await query<{ state: string; backend_xmin: string | null }>(
        url,
        `SELECT state, backend_xmin::text FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`,
      );
      expect(holderSession?.state).toBe('idle in transaction');
      await holder.close();
      await expect(countInSnapshot(id)).rejects.toThrow(/snapshot/i);
      await expect(holder.id()).rejects.toThrow(/closed/);
    } finally {
      await holder.close();
      await pools.end();
    }
  });

  it('retries after a failed connection', async () => {
    let attempts = 0;
    const holder = new SnapshotHolder(async () => {
      attempts++;
      if (attempts === 1) throw new Error('no route to host');
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    });
    await expect(holder.id()).rejects.toThrow('no route to host');
    await expect(holder.id()).resolves.toMatch(/-/);
    expect(attempts).toBe(2);
    await holder.close();
  });
});
