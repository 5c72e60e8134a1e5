import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, query, servers, uniquePrefix, withDatabase } from '../harness/servers.js';
import { Pools } from '../../src/pg/pools.js';
import { openJournalDb } from '../../src/engine/journal-db.js';

/**
 * A pooled client checked out by the tool (verify's pinned transactions, create_database's
 * admin session, the journal's transactions) whose server ends its session between two of
 * its queries: a restart, a failover, pg_terminate_backend. pg-pool listens for `error` on
 * idle clients only; without a listener of the tool's own, the client's `error` event
 * ended the whole process with "Unhandled 'error' event" and a stack trace (seen: Ctrl-C
 * during `demo`'s verify, which stops its server). Now the next query fails, and the
 * caller reports a lost connection.
 */

const prefix = uniquePrefix();
let dbUrl: string;

beforeAll(async () => {
  dbUrl = await createDatabase(servers().main, `${prefix}lost`);
});
afterAll(async () => {
  await query(servers().main, `DROP DATABASE IF EXISTS "${prefix}lost" WITH (FORCE)`);
  await query(servers().main, `DROP DATABASE IF EXISTS "${prefix}control" WITH (FORCE)`);
});

/** Ends the session `pid` from another connection and waits until it is gone. */
async function terminate(pid: number): Promise<void> {
  await query(servers().main, `SELECT pg_terminate_backend($1)`, [pid]);
  for (let i = 0; i < 100; i++) {
    const left = await query(servers().main, `SELECT 1 FROM pg_stat_activity WHERE pid = $1`, [pid]);
    if (left.length === 0) break;
    await sleep(50);
  }
  // The client reads the server's goodbye and closes its socket: its `error` event fires now.
  await sleep(300);
}

describe('a checked-out client whose session the server ends between two queries', () => {
  it('from Pools: listened to for its whole life; its next query fails and the process goes on', async () => {
    const pools = new Pools({ source: dbUrl }, 2);
    try {
      const client = await pools.pool('source').connect();
      try {
        expect(client.listenerCount('error'), 'an error listener while checked out').toBeGreaterThan(0);
        const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        await terminate(pid);
        await expect(client.query('SELECT 1')).rejects.toThrow();
      } finally {
        client.release(true);
      }
      // The pool hands out a working client again.
      const again = await pools.pool('source').query<{ one: number }>('SELECT 1 AS one');
      expect(again.rows[0]!.one).toBe(1);
    } finally {
      await pools.end();
    }
  });

  it('from the journal: a transaction held by kysely whose session ends fails its next query, the process goes on', async () => {
    const db = await openJournalDb(withDatabase(servers().main, `${prefix}control`));
    try {
      await db.connection().execute(async (conn) => {
        const pid = (await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(conn)).rows[0]!.pid;
        await terminate(pid);
        await expect(sql`SELECT 1`.execute(conn)).rejects.toThrow();
      });
      const again = await sql<{ one: number }>`SELECT 1 AS one`.execute(db);
      expect(again.rows[0]!.one).toBe(1);
    } finally {
      await db.destroy();
    }
  });
});
