import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { verifySplit, type VerifyResult } from '../../src/verify/verify.js';
import type { Check } from '../../src/verify/check.js';
import { FENCE_TRIGGER } from '../../src/steps/fence-source.js';
import { query, servers } from '../harness/servers.js';
import { openPinned } from '../../src/verify/sides.js';
import { TypeHashes } from '../../src/verify/column-hash.js';
import { rowHashExpr } from '../../src/verify/checksum-sql.js';
import { findDifferingRows } from '../../src/verify/bisect.js';
import { buildSplit, COLUMNS, type Split } from './verify-fixture.js';

let split: Split | null = null;
afterEach(async () => {
  await split?.cleanup();
  split = null;
});

async function fresh(): Promise<Split> {
  split = await buildSplit({ sourceServer: servers().main, targetServer: servers().main });
  return split;
}

function verify(s: Split, extra: Partial<Parameters<typeof verifySplit>[0]> = {}): Promise<VerifyResult> {
  return verifySplit({
    plan: s.plan,
    pools: s.pools,
    servers: s.servers,
    rolePasswords: s.passwords,
    checksums: true,
    health: false,
    baseDir: s.baseDir,
    ...extra,
  });
}

const failed = (r: VerifyResult): Check[] => r.checks.filter((c) => !c.ok);
const find = (r: VerifyResult, kind: Check['kind'], table?: string): Check[] =>
  r.checks.filter((c) => c.kind === kind && (table === undefined || c.table === table));

describe('verifySplit on one server', () => {
  it('passes every check on equal data, whatever the session settings of each database', async () => {
    const s = await fresh();
    await query(s.targetServer, `ALTER DATABASE "${s.usersDb}" SET TimeZone = 'America/New_York'`);
    await query(s.targetServer, `ALTER DATABASE "${s.usersDb}" SET DateStyle = 'SQL, DMY'`);
    await query(s.targetServer, `ALTER DATABASE "${s.usersDb}" SET extra_float_digits = -3`);
    await query(s.targetServer, `ALTER DATABASE "${s.usersDb}" SET IntervalStyle = 'sql_standard'`);
    await query(s.targetServer, `ALTER DATABASE "${s.sourceDb}" SET TimeZone = 'Asia/Kolkata'`);
    // The settings do reach new sessions: a naive text hash differs between the sides.
    const naive = `SELECT sum(hashtextextended(u::text, 0))::text AS h FROM users u`;
    const [a] = await query<{ h: string }>(s.sourceUrl, naive);
    const [b] = await query<{ h: string }>(s.usersUrl, naive);
    expect(a!.h).not.toBe(b!.h);
    // Enum values hash by OID, which differs between databases: the check must cast them.
    const enumHash = `SELECT sum(hash_record_extended(ROW(mood), 0))::text AS h FROM users`;
    const [ea] = await query<{ h: string }>(s.sourceUrl, enumHash);
    const [eb] = await query<{ h: string }>(s.usersUrl, enumHash);
    expect(ea!.h).not.toBe(eb!.h);

    const r = await verify(s);
    expect(failed(r)).toEqual([]);
    expect(r.ok).toBe(true);
    for (const t of ['public.users', 'public.settings', 'public.events', 'public.devices']) {
      expect(find(r, 'rowcount', t)).toHaveLength(1);
      expect(find(r, 'checksum', t)[0]?.detail).toMatch(/checksums equal \(hash_record_extended/);
      expect(find(r, 'schema', t)).toHaveLength(1);
      expect(find(r, 'fence', t)[0]?.ok).toBe(true);
    }
    expect(find(r, 'rowcount', 'public.users')[0]).toMatchObject({ source: 3000, target: 3000 });
    expect(find(r, 'schema', 'public.devices')[0]?.detail).toMatch(/1 dropped foreign key left out, 1 denormalized column added/);
    expect(find(r, 'denormalized').map((c) => [c.table, c.ok])).toEqual([['public.devices', true]]);
    expect(find(r, 'denormalized')[0]?.detail).toBe('500 rows: user_name equal the source\'s lookup');
    // devices, filled with a lookup, is read once per side for both checks.
    expect(find(r, 'checksum', 'public.devices')[0]?.detail).toBe('500 rows, checksums equal (hash_record_extended, 3 columns), read with its denormalized columns user_name');
    expect(find(r, 'sequence')).toHaveLength(1);
    // Each role reaches its own database only: own + other service + source = 3 checks per role.
    expect(find(r, 'isolation')).toHaveLength(6);
    expect(find(r, 'config')[0]?.detail).toMatch(/holds what apply wrote/);
    const orphans = find(r, 'orphans');
    expect(orphans).toHaveLength(1);
    expect(orphans[0]?.target).toEqual({ rows: 0, keys: 0 });
  });

  it('fails the denormalized check, and only it, when a fill left NULLs or another row\'s value', async () => {
    const s = await fresh();
    await query(s.devicesUrl, `UPDATE devices SET user_name = NULL WHERE id = 7`);
    await query(s.devicesUrl, `UPDATE devices SET user_name = 'user1' WHERE id = 8`);
    const r = await verify(s);
    expect(r.ok).toBe(false);
    // The checksum compares the source's columns only: it cannot see these.
    expect(find(r, 'checksum', 'public.devices')[0]?.ok).toBe(true);
    expect(failed(r).map((c) => `${c.kind} ${c.table}`)).toEqual(['denormalized public.devices']);
    expect(failed(r)[0]?.detail).toMatch(/^user_name differ from what the source's lookup gives now \(source 500 rows, target 500\): rows differ at id=7 \(changed\), id=8 \(changed\);/);
    expect(failed(r)[0]?.keys).toEqual([{ id: '7' }, { id: '8' }]);
    const none = await verify(s, { checksums: false });
    expect(find(none, 'denormalized'), 'without --checksums the rows are not read').toEqual([]);
  });

  it('fails the checksum of a table filled with a lookup when a copied column changed, naming the row, and its denormalized check too', async () => {
    const s = await fresh();
    await query(s.devicesUrl, `UPDATE devices SET name = 'other' WHERE id = 11`);
    const r = await verify(s);
    expect(r.ok).toBe(false);
    const cs = find(r, 'checksum', 'public.devices')[0]!;
    expect(cs.ok).toBe(false);
    expect(cs.keys).toEqual([{ id: '11' }]);
    expect(cs.detail).toContain('id=11 (changed)');
    expect(find(r, 'rowcount', 'public.devices')[0]).toMatchObject({ ok: true, source: 500, target: 500 });
    expect(failed(r).map((c) => `${c.kind} ${c.table}`).sort()).toEqual(['checksum public.devices', 'denormalized public.devices']);
  });

  it('fails the row count of a table with a deleted row, and the checksum names the row', async () => {
    const s = await fresh();
    await query(s.usersUrl, `DELETE FROM users WHERE id = 1234`);
    const r = await verify(s);
    expect(r.ok).toBe(false);
    const rc = find(r, 'rowcount', 'public.users')[0]!;
    expect(rc.ok).toBe(false);
    expect(rc).toMatchObject({ source: 3000, target: 2999 });
    expect(rc.detail).toMatch(/1 missing in/);
    const cs = find(r, 'checksum', 'public.users')[0]!;
    expect(cs.ok).toBe(false);
    expect(cs.keys).toEqual([{ id: '1234' }]);
    expect(cs.detail).toContain('id=1234 (missing in target)');
    expect(failed(r).map((c) => `${c.kind} ${c.table}`).sort()).toEqual(['checksum public.users', 'rowcount public.users']);
  });

  it('reports a table missing on the target against that table alone, the small tables read with it still compared', async () => {
    const s = await fresh();
    // users, settings and events are small tables of one database: their checksums are read in one query per side.
    await query(s.usersUrl, `DROP TABLE settings`);
    const r = await verify(s);
    expect(find(r, 'checksum', 'public.settings')[0]).toMatchObject({ ok: false, detail: expect.stringMatching(/^cannot compute checksums: .*settings.* does not exist/) });
    expect(find(r, 'rowcount', 'public.settings')[0]).toMatchObject({ ok: false, detail: expect.stringMatching(/^cannot count rows/) });
    for (const t of ['public.users', 'public.events', 'public.devices']) {
      expect(find(r, 'checksum', t)[0], t).toMatchObject({ ok: true, detail: expect.stringMatching(/checksums equal/) });
      expect(find(r, 'rowcount', t)[0]?.ok, t).toBe(true);
    }
  });

  it('names the changed rows of text, numeric, timestamptz, jsonb, enum and float values, with or without a primary key', async () => {
    const s = await fresh();
    await query(s.usersUrl, `UPDATE users SET username = 'someone else' WHERE id = 17`);
    await query(s.usersUrl, `UPDATE users SET balance = balance + 0.01 WHERE id = 42`);
    await query(s.usersUrl, `UPDATE users SET created_at = created_at + interval '1 microsecond' WHERE id = 999`);
    await query(s.usersUrl, `UPDATE users SET doc = doc || '{"x": 1}' WHERE id = 2000`);
    await query(s.usersUrl, `UPDATE users SET mood = 'sad' WHERE id = 2500`);
    await query(s.usersUrl, `UPDATE users SET score = 0 WHERE id = 2601`); // NaN → 0
    await query(s.usersUrl, `UPDATE settings SET updated_at = updated_at + interval '1 second' WHERE code = 'k01000'`);
    await query(s.usersUrl, `UPDATE events SET n = -1 WHERE ctid = (SELECT ctid FROM events WHERE n = 1650 LIMIT 1)`);
    // Two identical rows (g = 5 and g = 1705): deleting one is seen, a sum does not cancel duplicates.
    await query(s.usersUrl, `DELETE FROM events WHERE ctid = (SELECT ctid FROM events WHERE n = 5 LIMIT 1)`);
    const r = await verify(s);
    const users = find(r, 'checksum', 'public.users')[0]!;
    expect(users.ok).toBe(false);
    expect(users.keys).toEqual([{ id: '17' }, { id: '42' }, { id: '999' }, { id: '2000' }, { id: '2500' }, { id: '2601' }]);
    expect(users.detail).toContain('rows differ at id=17 (changed), id=42 (changed)');
    const settings = find(r, 'checksum', 'public.settings')[0]!;
    expect(settings.ok).toBe(false);
    expect(settings.keys).toEqual([{ code: 'k01000' }]);
    const events = find(r, 'checksum', 'public.events')[0]!;
    expect(events.ok).toBe(false);
    expect(events.keys).toHaveLength(3);
    expect(events.detail.match(/missing in target/g)).toHaveLength(2);
    expect(events.detail).toMatch(/row \(kind5,.*g.*: 5\}.*,5\) \(missing in target\)/);
    expect(events.detail).toMatch(/extra in target/);
    expect(find(r, 'rowcount').filter((c) => !c.ok).map((c) => c.table)).toEqual(['public.events']);
    expect(find(r, 'checksum', 'public.devices')[0]?.ok).toBe(true);

    // The bisection descends several levels when segments are small, and stops at the limit.
    const src = await openPinned(s.pools.pool('source'));
    const dst = await openPinned(s.pools.pool('source', s.usersDb));
    try {
      const table = { schema: 'public', name: 'users' };
      const columns = await new TypeHashes(s.pools.pool('source')).columns(table, COLUMNS['public.users']!);
      expect(columns.filter((c) => c.text).map((c) => c.name)).toEqual(['mood', 'moods', 'raw', 'pos']);
      const base = { table, rowHash: rowHashExpr(columns, 'record'), source: src.query, target: dst.query, rows: 3000, leafRows: 5, buckets: 4 };
      const byRange = await findDifferingRows({ ...base, key: { kind: 'primary', columns: ['id'], integer: true }, limit: 10 });
      expect(byRange.map((d) => d.key.id)).toEqual(['17', '42', '999', '2000', '2500', '2601']);
      const byHash = await findDifferingRows({ ...base, key: { kind: 'primary', columns: ['id'], integer: false }, limit: 3 });
      expect(byHash).toHaveLength(3);
      expect(byHash.every((d) => d.state === 'changed')).toBe(true);
    } finally {
      await src.close();
      await dst.close();
    }
  });

  it('binds every value to its row and column: values swapped between rows or columns, and a value set NULL, are each named', async () => {
    const s = await fresh();
    await query(s.usersUrl, `UPDATE users u SET username = v.username FROM users v WHERE (u.id, v.id) IN ((100, 101), (101, 100))`);
    await query(s.usersUrl, `UPDATE users SET username = status, status = username WHERE id = 200`);
    await query(s.usersUrl, `UPDATE users SET created_at = NULL WHERE id = 300`);
    await query(s.usersUrl, `UPDATE users SET tags = NULL WHERE id = 301`);
    await query(s.usersUrl, `UPDATE users SET balance = NULL WHERE id = 302`);
    // A text key, and no key at all: a value swapped between two rows.
    await query(s.usersUrl, `UPDATE settings u SET value = v.value FROM settings v WHERE (u.code, v.code) IN (('k00010', 'k00011'), ('k00011', 'k00010'))`);
    await query(s.usersUrl, `UPDATE events SET n = CASE n WHEN 10 THEN 11 ELSE 10 END
      WHERE ctid IN ((SELECT ctid FROM events WHERE n = 10 LIMIT 1), (SELECT ctid FROM events WHERE n = 11 LIMIT 1))`);
    const r = await verify(s);
    const users = find(r, 'checksum', 'public.users')[0]!;
    expect(users.ok).toBe(false);
    expect(users.keys).toEqual([{ id: '100' }, { id: '101' }, { id: '200' }, { id: '300' }, { id: '301' }, { id: '302' }]);
    expect(find(r, 'checksum', 'public.settings')[0]?.keys).toEqual([{ code: 'k00010' }, { code: 'k00011' }]);
    expect(find(r, 'checksum', 'public.events')[0]?.detail).toMatch(/rows differ at .*missing in target.*extra in target/);
    expect(find(r, 'rowcount').every((c) => c.ok)).toBe(true);
    expect(failed(r).map((c) => `${c.kind} ${c.table}`)).toEqual(['checksum public.users', 'checksum public.settings', 'checksum public.events']);
    // Why the row hash is seeded: a record hash adds its columns' hashes linearly, and an unseeded sum misses the swap.
    const unseeded = `SELECT sum(hash_record_extended(ROW(id, username), 0))::text AS h FROM users WHERE id IN (100, 101)`;
    const [before] = await query<{ h: string }>(s.sourceUrl, unseeded);
    const [after] = await query<{ h: string }>(s.usersUrl, unseeded);
    expect(after!.h).toBe(before!.h);
  });

  it('does not count -0 against 0 (equal under the type hash) but sees a float value change', async () => {
    const s = await fresh();
    // id 5: score is -0 on both sides; flip the target to +0: the float hash treats them as equal.
    await query(s.usersUrl, `UPDATE users SET score = 0 WHERE id = 5`);
    const r = await verify(s, { jobs: 1 });
    expect(find(r, 'checksum', 'public.users')[0]?.ok).toBe(true);
    await query(s.usersUrl, `UPDATE users SET score = 1e-300 WHERE id = 5`);
    const r2 = await verify(s);
    expect(find(r2, 'checksum', 'public.users')[0]?.keys).toEqual([{ id: '5' }]);
  });

  it('fails schema parity on a dropped default and a dropped index, naming each', async () => {
    const s = await fresh();
    await query(s.usersUrl, `ALTER TABLE users ALTER COLUMN status DROP DEFAULT`);
    await query(s.usersUrl, `DROP INDEX users_username_idx`);
    await query(s.devicesUrl, `ALTER TABLE devices DROP COLUMN user_name`);
    const r = await verify(s, { checksums: false });
    const users = find(r, 'schema', 'public.users')[0]!;
    expect(users.ok).toBe(false);
    expect(users.detail).toMatch(/column users\.status default differs: source 'active'::"?text"? target NULL/);
    expect(users.detail).toContain('index users_username_idx missing in target');
    expect(find(r, 'schema', 'public.devices')[0]?.detail).toContain('denormalized column devices.user_name missing in target');
    expect(find(r, 'schema', 'public.settings')[0]?.ok).toBe(true);
  });

  it('fails schema parity on a table made UNLOGGED, a changed replica identity and storage parameter, a column\'s statistics target and comment, naming each', async () => {
    const s = await fresh();
    await query(
      s.usersUrl,
      `ALTER TABLE users SET UNLOGGED;
       ALTER TABLE users REPLICA IDENTITY FULL;
       ALTER TABLE users SET (fillfactor = 70);
       ALTER TABLE users ALTER COLUMN username SET (n_distinct = 100);
       ALTER TABLE users ALTER COLUMN username SET STATISTICS 500;
       ALTER TABLE users ALTER COLUMN username SET STORAGE MAIN;
       ALTER TABLE users ALTER COLUMN username SET COMPRESSION pglz;
       COMMENT ON COLUMN users.username IS 'changed';`,
    );
    const r = await verify(s, { checksums: false });
    const users = find(r, 'schema', 'public.users')[0]!;
    expect(users.ok).toBe(false);
    expect(users.detail).toContain('users is LOGGED in the source but UNLOGGED in the target');
    expect(users.detail).toContain('users replica identity differs: source DEFAULT target FULL');
    expect(users.detail).toContain('users storage parameters differs: source NULL target fillfactor=70');
    expect(users.detail).toMatch(/column users\.username options differs: source \S+ target .*n_distinct/);
    expect(users.detail).toMatch(/column users\.username comment differs: source \S+ target .*changed/);
    expect(users.detail).toContain('column users.username statistics target differs: source NULL target 500');
    expect(users.detail).toContain('column users.username storage differs: source NULL target MAIN');
    expect(users.detail).toContain('column users.username compression differs: source NULL target pglz');
    expect(find(r, 'schema', 'public.settings')[0]?.ok).toBe(true);
  });

  it('fails the sequence check when a target sequence is set back', async () => {
    const s = await fresh();
    await query(s.usersUrl, `SELECT setval('users_id_seq', 10)`);
    const r = await verify(s, { checksums: false });
    const seq = find(r, 'sequence')[0]!;
    expect(seq.ok).toBe(false);
    expect(seq.table).toBe('public.users_id_seq');
    expect(seq.detail).toMatch(/next value in .* is 11, the source's is 3001/);
  });

  it('fails the fence check of a table whose fence trigger was removed or disabled', async () => {
    const s = await fresh();
    await query(s.sourceUrl, `DROP TRIGGER "${FENCE_TRIGGER}" ON users`);
    await query(s.sourceUrl, `ALTER TABLE events DISABLE TRIGGER "${FENCE_TRIGGER}"`);
    const r = await verify(s, { checksums: false });
    expect(find(r, 'fence', 'public.users')[0]).toMatchObject({ ok: false, service: 'users' });
    expect(find(r, 'fence', 'public.users')[0]?.detail).toMatch(/missing/);
    expect(find(r, 'fence', 'public.events')[0]?.detail).toMatch(/disabled/);
    expect(find(r, 'fence', 'public.settings')[0]?.ok).toBe(true);
    expect(find(r, 'fence', 'public.devices')[0]).toMatchObject({ ok: true, service: 'devices' });
    // The check's test write was rolled back: the table is untouched.
    expect((await query<{ n: string }>(s.sourceUrl, `SELECT count(*)::text AS n FROM users`))[0]?.n).toBe('3000');
  });

  it('fails isolation when another service database lets PUBLIC connect, and says how to check a role without password', async () => {
    const s = await fresh();
    await query(s.targetServer, `GRANT CONNECT ON DATABASE "${s.devicesDb}" TO PUBLIC`);
    const r = await verify(s, { checksums: false, rolePasswords: { ...s.passwords, [s.roles.devices]: null } });
    const bad = find(r, 'isolation').filter((c) => !c.ok);
    expect(bad).toHaveLength(2);
    const leak = bad.find((c) => c.service === 'users')!;
    expect(leak.target).toBe(s.devicesDb);
    expect(leak.detail).toMatch(/can connect to .*REVOKE CONNECT/);
    const unknown = bad.find((c) => c.service === 'devices')!;
    expect(unknown.detail).toMatch(/no password.*services\.devices\.role\.password/);
    expect(JSON.stringify(r)).not.toContain('pw-users-1');
  });

  it('checks config entries and health URLs', async () => {
    const s = await fresh();
    const server: Server = createServer((req, res) => {
      res.statusCode = req.url === '/ok' ? 200 : 503;
      res.end('x');
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const port = (server.address() as { port: number }).port;
    try {
      const healthUrls = { users: `http://127.0.0.1:${port}/ok`, devices: `http://127.0.0.1:${port}/down` };
      // Edited since apply, but the entry still points at the new database.
      await writeFile(join(s.baseDir, 'users', '.env'), `DB_HOST=db.internal\nDB_DATABASE=${s.usersDb}\n`);
      const r = await verify(s, { checksums: false, health: true, healthUrls });
      expect(find(r, 'config')[0]).toMatchObject({ ok: true, service: 'users' });
      expect(find(r, 'config')[0]?.detail).toMatch(/changed since apply, but DB_DATABASE is/);
      expect(find(r, 'health').find((c) => c.service === 'users')?.ok).toBe(true);
      expect(find(r, 'health').find((c) => c.service === 'devices')).toMatchObject({ ok: false });
      expect(find(r, 'health').find((c) => c.service === 'devices')?.detail).toMatch(/503/);

      await writeFile(join(s.baseDir, 'users', '.env'), `DB_HOST=localhost\nDB_DATABASE=cloudphone_core\n`);
      const r2 = await verify(s, { checksums: false });
      expect(find(r2, 'config')[0]).toMatchObject({ ok: false });
      expect(find(r2, 'config')[0]?.detail).toMatch(/DB_DATABASE is "cloudphone_core", expected/);
      expect(find(r2, 'health')).toHaveLength(0);
    } finally {
      server.close();
    }
  });

  it('counts rows orphaned by a dropped foreign key, as information only', async () => {
    const s = await fresh();
    const [d] = await query<{ user_id: number }>(s.devicesUrl, `SELECT user_id FROM devices WHERE id = 10`);
    await query(s.usersUrl, `DELETE FROM users WHERE id = ${d!.user_id}`);
    const r = await verify(s, { checksums: false });
    const o = find(r, 'orphans')[0]!;
    expect(o.ok).toBe(true);
    expect(o.target).toEqual({ rows: 1, keys: 1 });
    expect(o.keys).toEqual([{ user_id: String(d!.user_id) }]);
    expect(o.detail).toMatch(/1 rows \(1 distinct keys\) of public\.devices\(user_id\)/);
    expect(find(r, 'rowcount', 'public.users')[0]?.ok).toBe(false);
  });
});
