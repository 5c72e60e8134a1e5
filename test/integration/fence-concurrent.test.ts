import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createDatabase, query, servers, uniquePrefix } from '../harness/servers.js';
import { fenceSql } from '../../src/steps/fence-source.js';

const prefix = uniquePrefix();
afterAll(async () => {
  await query(servers().main, `DROP DATABASE IF EXISTS "${prefix}src" WITH (FORCE)`);
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
});
