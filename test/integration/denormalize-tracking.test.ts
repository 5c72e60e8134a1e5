import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createDatabase, query, servers, uniquePrefix } from '../harness/servers.js';
import type { DenormalizeFill } from '../../src/plan/model.js';
import { dropTracking, fillTag, trackingInPlace, trackKeysSql, trackRowsSql, trackTables, TRACK_SCHEMA } from '../../src/online/denormalize-tracking.js';

/**
 * The tracking triggers on their own, in one database holding both tables: what they
 * record, what they leave out (the fill's own updates, updates that change no
 * reference or value), and that a TRUNCATE of the referenced table makes the tracking
 * unusable (catch_up then refills every row). The whole path through a subscription is
 * in online-denormalized.test.ts.
 */

const dbs: string[] = [];
afterAll(async () => {
  for (const d of dbs) await query(servers().main, `DROP DATABASE IF EXISTS "${d}" WITH (FORCE)`);
});

const fill: DenormalizeFill = {
  target: { service: 'device', server: 'source', database: 'x' },
  table: 'public.devices',
  column: 'user_name',
  fromTable: 'public.users',
  fromColumn: 'username',
  on: [{ local: 'user_id', remote: 'id' }],
};

async function run(url: string, sql: string[]): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    for (const s of sql) await c.query(s);
  } finally {
    await c.end();
  }
}

describe('denormalized column tracking', () => {
  it('records inserted and re-pointed rows and changed keys, not the fill\'s own writes; a TRUNCATE voids it', async () => {
    const name = `${uniquePrefix()}track`;
    dbs.push(name);
    const url = await createDatabase(servers().main, name);
    await run(url, [
      `CREATE TABLE users (id bigint PRIMARY KEY, username text, email text)`,
      `CREATE TABLE devices (id bigint PRIMARY KEY, user_id bigint, user_name text, cpu int)`,
      `INSERT INTO users SELECT g, 'u' || g, 'e' FROM generate_series(1, 10) g`,
      `INSERT INTO devices SELECT g, g, NULL, 1 FROM generate_series(1, 10) g`,
    ]);
    const tag = fillTag(fill);
    await run(url, [...trackKeysSql(fill, tag), ...trackRowsSql(fill, tag, ['id'])]);
    const t = trackTables(tag);
    const rows = async () => (await query<{ id: string }>(url, `SELECT DISTINCT id::text FROM ${t.rows} ORDER BY 1`)).map((r) => r.id);
    const keys = async () => (await query<{ id: string }>(url, `SELECT DISTINCT id::text FROM ${t.keys} ORDER BY 1`)).map((r) => r.id);

    // As the apply worker writes them (session_replication_role = replica: ENABLE ALWAYS triggers fire).
    await run(url, [
      'SET session_replication_role = replica',
      `INSERT INTO devices VALUES (11, 3, NULL, 1)`,
      `UPDATE devices SET user_id = 4 WHERE id = 2`,
      `UPDATE devices SET cpu = 8 WHERE id BETWEEN 5 AND 9`,
      `UPDATE users SET username = 'renamed' WHERE id = 6`,
      `UPDATE users SET email = 'x' WHERE id = 7`,
      `UPDATE users SET id = 20 WHERE id = 8`,
      `DELETE FROM users WHERE id = 9`,
      `INSERT INTO users VALUES (12, 'new', 'e')`,
    ]);
    // The fill's own updates are not recorded.
    await run(url, ['BEGIN', `SET LOCAL cloudphone_split.filling = 'on'`, `UPDATE devices SET user_name = 'v', user_id = 1 WHERE id = 10`, `UPDATE users SET username = 'w' WHERE id = 10`, 'COMMIT']);
    expect(await rows()).toEqual(['11', '2']);
    expect(await keys()).toEqual(['12', '20', '6', '8', '9']);

    const tracked = { fill, from: fill.target, tag };
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      expect(await trackingInPlace(c, c, tracked)).toBe(true);
      await c.query('SET session_replication_role = replica');
      await c.query('TRUNCATE users');
      expect(await trackingInPlace(c, c, tracked)).toBe(false);
      expect(await dropTracking(c)).toBe(true);
    } finally {
      await c.end();
    }
    expect(await query(url, `SELECT 1 FROM pg_namespace WHERE nspname = $1`, [TRACK_SCHEMA])).toEqual([]);
    expect(await query(url, `SELECT tgname FROM pg_trigger WHERE NOT tgisinternal`)).toEqual([]);
  });
});
