import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createDatabase, query, servers, uniquePrefix } from '../harness/servers.js';
import { fenceSql, fenceTransaction } from '../../src/steps/fence-source.js';

const prefix = uniquePrefix();
afterAll(async () => {
  await query(servers().main, `DROP DATABASE IF EXISTS "${prefix}src" WITH (FORCE)`);
  await query(servers().main, `DROP DATABASE IF EXISTS "${prefix}dl" WITH (FORCE)`);
});

/**
 * Two fence steps at once on one source (`apply --service` of two services the plan does
 * not order, or two splits): each makes the shared fence function in its transaction. The
 * second one's CREATE OR REPLACE waited on the first and then failed with "tuple
 * concurrently updated", a random exit 3; they now take turns.
 */
describe('fence steps on one source at once', () => {
  it('take turns to make the fence function: the second waits for the first and succeeds', async () => {
    const url = await createDatabase(servers().main, `${prefix}src`);
    await query(url, `CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY)`);
    const first = new pg.Client({ connectionString: url });
    const second = new pg.Client({ connectionString: url });
    await Promise.all([first.connect(), second.connect()]);
    try {
      await first.query('BEGIN');
      for (const sql of fenceSql('split-a', [{ table: 'public.a', database: 'db_a' }])) await first.query(sql);
      await second.query('BEGIN');
      const secondPid = (await second.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const running = (async () => {
        for (const sql of fenceSql('split-b', [{ table: 'public.b', database: 'db_b' }])) await second.query(sql);
        await second.query('COMMIT');
      })();
      // Awaited below; a failure before then is reported there, not as an unhandled rejection.
      running.catch(() => undefined);
      // The second step is waiting (on the first one's lock) before the first commits.
      for (let i = 0; ; i++) {
        const [w] = await query<{ waiting: boolean }>(url, `SELECT wait_event_type = 'Lock' AS waiting FROM pg_stat_activity WHERE pid = $1`, [secondPid]);
        if (w?.waiting) break;
        if (i > 200) throw new Error('the second fence step never waited for the first');
        await new Promise((r) => setTimeout(r, 25));
      }
      await first.query('COMMIT');
      await running;
    } finally {
      await Promise.all([first.end(), second.end()]);
    }
    const fenced = await query<{ t: string }>(url, `SELECT tgrelid::regclass::text AS t FROM pg_trigger WHERE tgname = 'cloudphone_split_fence' ORDER BY 1`);
    expect(fenced.map((r) => r.t)).toEqual(['a', 'b']);
    await expect(query(url, `INSERT INTO b VALUES (1)`)).rejects.toThrow('table public.b has moved to database db_b');
  });

  /**
   * At cutover the services still write: a transaction that wrote one moved table and then
   * writes another waits on the fence's lock on the second while the fence waits on the
   * first, and PostgreSQL ends one of them. The fence, ended, tried once and failed the
   * cutover inside its window; it is now tried again once the writer is through.
   */
  it('is tried again when PostgreSQL ends it to break a deadlock with a writer, and the writer keeps its rows', async () => {
    const url = await createDatabase(servers().main, `${prefix}dl`);
    await query(url, `CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY)`);
    const writer = new pg.Client({ connectionString: url });
    await writer.connect();
    try {
      // The writer never gives up first: the fence is the one PostgreSQL ends.
      await writer.query(`SET deadlock_timeout = '60s'`);
      const writerPid = (await writer.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await writer.query('BEGIN');
      await writer.query('INSERT INTO b VALUES (1)');
      const connect = async () => {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        // Room for the writer's second statement to start waiting before the fence checks for a deadlock.
        await c.query(`SET deadlock_timeout = '3s'`);
        return c;
      };
      const fencing = fenceTransaction(connect, fenceSql('split-dl', [{ table: 'public.a', database: 'db_a' }, { table: 'public.b', database: 'db_b' }]));
      fencing.catch(() => undefined);
      // The fence holds a and waits for b, which the writer holds.
      for (let i = 0; ; i++) {
        const [w] = await query<{ n: number }>(url, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> $1 AND wait_event_type = 'Lock'`, [writerPid]);
        if (w && w.n > 0) break;
        if (i > 400) throw new Error('the fence never waited for the writer');
        await new Promise((r) => setTimeout(r, 25));
      }
      // The writer's next statement waits for the fence: a deadlock, which ends the fence's transaction.
      await writer.query('INSERT INTO a VALUES (1)');
      await writer.query('COMMIT');
      expect(await fencing).toBe(1);
    } finally {
      await writer.end();
    }
    expect((await query<{ n: number }>(url, `SELECT ((SELECT count(*) FROM a) + (SELECT count(*) FROM b))::int AS n`))[0]!.n).toBe(2);
    const fenced = await query<{ t: string }>(url, `SELECT tgrelid::regclass::text AS t FROM pg_trigger WHERE tgname = 'cloudphone_split_fence' ORDER BY 1`);
    expect(fenced.map((r) => r.t)).toEqual(['a', 'b']);
    await expect(query(url, `INSERT INTO a VALUES (2)`)).rejects.toThrow('table public.a has moved to database db_a');
  });
});
