import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pg15, query, servers } from '../harness/servers.js';
import type { Plan } from '../../src/plan/model.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { expectSameData } from './helpers/assert-split.js';
import { applyAndKill, SplitWatch } from './helpers/crash.js';
import { assertBuilt, runCli, spawnCli } from './helpers/cli.js';
import { tableSums } from './helpers/table-sums.js';

const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

async function fixture(opts: Parameters<typeof splitFixture>[0] = {}): Promise<SplitFixture> {
  const fx = await splitFixture({ source: servers().main, ...opts });
  fixtures.push(fx);
  return fx;
}

/** Runs `sql` in an explicit read-write transaction on the source (read-only by default after the split), then rolls back. */
async function writeInSource(fx: SplitFixture, sql: string): Promise<{ ok: true } | { ok: false; code: string; message: string }> {
  const c = new pg.Client({ connectionString: fx.sourceUrl });
  await c.connect();
  try {
    await c.query('BEGIN READ WRITE');
    await c.query(sql);
    return { ok: true };
  } catch (err) {
    const e = err as { code: string; message: string };
    return { ok: false, code: e.code, message: e.message };
  } finally {
    await c.query('ROLLBACK').catch(() => undefined);
    await c.end();
  }
}

async function databasesWithPrefix(fx: SplitFixture): Promise<string[]> {
  const rows = await query<{ datname: string }>(servers().main, `SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY 1`, [`${fx.prefix}%`]);
  return rows.map((r) => r.datname);
}

async function rolesWithPrefix(fx: SplitFixture): Promise<string[]> {
  const rows = await query<{ rolname: string }>(servers().main, `SELECT rolname FROM pg_roles WHERE rolname LIKE $1 ORDER BY 1`, [`${fx.prefix}%`]);
  return rows.map((r) => r.rolname);
}

async function fenceTriggers(fx: SplitFixture): Promise<number> {
  const [row] = await query<{ n: number }>(fx.sourceUrl, `SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = 'cloudphone_split_fence'`);
  return row!.n;
}

describe('after apply', () => {
  const hostile = `'; DROP ROLE postgres; --`;
  let fx: SplitFixture;
  let plan: Plan;

  beforeAll(async () => {
    fx = await fixture({ passwords: { user: hostile, billing: `it's "quoted" \\ too` } });
    plan = await fx.plan();
    const r = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    expect(r.code, r.stderr).toBe(0);
  });

  it('fences the moved tables of the source: writes fail naming the new database, reads still work', async () => {
    const users = fx.service('user').database;
    const devices = fx.service('device').database;
    const plain = await query(fx.sourceUrl, `UPDATE devices SET name = name WHERE id = 1`).then(
      () => 'written',
      (err: { code: string }) => err.code,
    );
    expect(plain, 'the source is read-only by default').toBe('25006');
    for (const [sql, database] of [
      [`INSERT INTO tenants (slug, name) VALUES ('x', 'x')`, users],
      [`UPDATE users SET phone = phone WHERE id = 1`, users],
      [`DELETE FROM devices WHERE id = 1`, devices],
      [`TRUNCATE device_snapshots`, devices],
      [`INSERT INTO device_events SELECT * FROM device_events LIMIT 1`, devices],
      [`DELETE FROM device_events_2025_01`, devices],
      [`UPDATE "Billing ""Audit"" Log" SET "Event Type" = "Event Type"`, fx.service('billing').database],
    ] as const) {
      const r = await writeInSource(fx, sql);
      expect(r.ok, sql).toBe(false);
      if (!r.ok) {
        expect(r.code, sql).toBe('25006');
        expect(r.message, sql).toContain(`has moved to database ${database}`);
      }
    }
    const [count] = await query<{ n: number }>(fx.sourceUrl, `SELECT count(*)::int AS n FROM users`);
    expect(count!.n).toBeGreaterThan(0);
  });

  it('fences a copied table only as its owner\'s move, and leaves ignored tables writable', async () => {
    // api-gateway copies users and roles: the fence names user-service's database, the owner's.
    const r = await writeInSource(fx, `UPDATE roles SET description = description`);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.message).toContain(`has moved to database ${fx.service('user').database}`);
      expect(r.message).not.toContain(fx.service('auth').database);
    }
    const fenced = plan.steps.flatMap((s) => (s.kind === 'fence_source' ? s.tables : []));
    expect(fenced.length).toBe(await fenceTriggers(fx));
    expect(await writeInSource(fx, `INSERT INTO typeorm_metadata (type, name) VALUES ('VIEW', 'x')`)).toEqual({ ok: true });
    expect(await writeInSource(fx, `DELETE FROM migrations`)).toEqual({ ok: true });
  });

  it('fences sessions in replica mode too (the trigger is ENABLE ALWAYS): a replication or restore session cannot write past it', async () => {
    const r = await writeInSource(fx, `SET LOCAL session_replication_role = replica; UPDATE roles SET description = description`);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toContain(`has moved to database ${fx.service('user').database}`);
    // The same session writes to a table the split left in place: only the fence stopped the first write.
    expect(await writeInSource(fx, `SET LOCAL session_replication_role = replica; DELETE FROM migrations`)).toEqual({ ok: true });
  });

  it('no role but its own service\'s connects to a service database: CONNECT is revoked from PUBLIC', async () => {
    const device = fx.service('device');
    for (const key of ['user', 'billing']) {
      const s = fx.service(key);
      const url = new URL(s.url);
      url.username = device.role;
      url.password = device.password;
      const c = new pg.Client({ connectionString: url.toString() });
      const err = await c.connect().then(
        async () => {
          await c.end();
          return null;
        },
        (e: { code?: string }) => e,
      );
      expect(err?.code, `${device.role} connecting to ${s.database}`).toBe('42501');
    }
  });

  it('copies a table named with quotes, spaces and capitals like any other', async () => {
    const billing = fx.service('billing');
    const key = 'public.Billing "Audit" Log';
    const [cols] = await query<{ c: string[] }>(
      fx.sourceUrl,
      `SELECT array_agg(attname::text ORDER BY attnum) AS c FROM pg_attribute WHERE attrelid = '"Billing ""Audit"" Log"'::regclass AND attnum > 0 AND NOT attisdropped`,
    );
    const columns = new Map([[key, cols!.c]]);
    const [source, target] = await Promise.all([tableSums(fx.sourceUrl, columns), tableSums(billing.url, columns)]);
    expect(source[key]!.rows).toBeGreaterThan(0);
    expect(target).toEqual(source);
    await expectSameData(fx, plan);
  });

  it('sets a role password holding SQL as a literal: the role logs in with it, nothing else ran', async () => {
    for (const key of ['user', 'billing']) {
      const s = fx.service(key);
      const url = new URL(s.url);
      url.username = s.role;
      url.password = encodeURIComponent(s.password);
      const [me] = await query<{ u: string }>(url.toString(), `SELECT current_user AS u`);
      expect(me!.u).toBe(s.role);
      url.password = 'wrong';
      await expect(query(url.toString(), 'SELECT 1'), 'the server checks passwords').rejects.toThrow(/password authentication failed/);
    }
    const [postgres] = await query<{ n: number }>(servers().main, `SELECT count(*)::int AS n FROM pg_roles WHERE rolname = 'postgres'`);
    expect(postgres!.n).toBe(1);
    // The password is in none of the files or records the split wrote.
    const journal = await query<{ t: string }>(fx.controlUrl, `SELECT (SELECT string_agg(r::text, '') FROM cloudphone_split.runs r) || (SELECT string_agg(s::text, '') FROM cloudphone_split.steps s) AS t`);
    for (const text of [await readFile(fx.planFile, 'utf8'), journal[0]!.t]) {
      expect(text).not.toContain(fx.service('user').password);
      expect(text).not.toContain('DROP ROLE postgres');
    }
  });
});

describe('apply is consistent', () => {
  it('loses no write made while it runs: each committed write is in the new database, later ones fail at the fence', async () => {
    const fx = await fixture();
    await fx.plan();
    const writer = new pg.Client({ connectionString: fx.sourceUrl });
    writer.on('error', () => undefined);
    await writer.connect();
    const committed: string[] = [];
    let refused: { code: string; message: string } | undefined;
    let stop = false;
    const writing = (async () => {
      while (!stop && !refused) {
        try {
          const r = await writer.query<{ id: string }>(`INSERT INTO audit_logs (action, entity) VALUES ('written during apply', 'test') RETURNING id::text AS id`);
          committed.push(r.rows[0]!.id);
        } catch (err) {
          refused = err as { code: string; message: string };
        }
        await sleep(2);
      }
    })();
    try {
      const r = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
      expect(r.code, r.stderr).toBe(0);
    } finally {
      stop = true;
      await writing;
      await writer.end();
    }
    expect(committed.length).toBeGreaterThan(10);
    expect(refused?.code).toBe('25006');
    expect(refused?.message).toContain(`has moved to database ${fx.service('user').database}`);
    const copied = await query<{ id: string }>(fx.service('user').url, `SELECT id::text AS id FROM audit_logs WHERE action = 'written during apply' ORDER BY id`);
    expect(copied.map((x) => x.id)).toEqual(committed);
  });

  it('stops with exit 4 before changing anything when the source changed since the plan', async () => {
    const fx = await fixture();
    await fx.plan();
    await query(fx.sourceUrl, `ALTER TABLE devices ADD COLUMN added_after_plan int`);
    const r = await fx.cli('apply', fx.planFile, '--yes');
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain('public.devices');
    expect(await databasesWithPrefix(fx)).toEqual([fx.sourceDb]);
    expect(await rolesWithPrefix(fx)).toEqual([]);
    expect(await fenceTriggers(fx)).toBe(0);
  });
});

describe('apply refuses', () => {
  it('a database name holding SQL: the manifest is rejected (exit 2) and nothing runs', async () => {
    const fx = await fixture({
      edit: (m) => {
        (m.services as Record<string, Record<string, unknown>>)['billing-service']!.database = `x"; DROP TABLE users; --`;
      },
    });
    for (const args of [['plan', '-o', fx.planFile], ['apply', '--yes']]) {
      const r = await fx.cli(args[0]!, ...args.slice(1));
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain('services.billing-service.database');
      expect(r.stderr).toContain('is not a plain identifier');
    }
    expect(await databasesWithPrefix(fx)).toEqual([fx.sourceDb]);
    const [users] = await query<{ ok: boolean }>(fx.sourceUrl, `SELECT to_regclass('public.users') IS NOT NULL AS ok`);
    expect(users!.ok).toBe(true);
  });

  it('to run twice at once: the second apply exits 5 naming the one that holds the lock', async () => {
    assertBuilt();
    const fx = await fixture();
    await fx.plan();
    await query(servers().main, `CREATE DATABASE "${fx.prefix}control"`);
    const watch = await SplitWatch.open(fx);
    const first = spawnCli(['apply', fx.planFile, '--yes', '--jobs', '2'], fx.env);
    try {
      const since = new Date(0);
      while ((await watch.running(() => true, since)) === undefined) {
        const exited = await Promise.race([first.done.then(() => true), new Promise((r) => setTimeout(() => r(false), 5))]);
        if (exited) throw new Error(`the first apply ended before a step ran:\n${first.output().stderr}`);
      }
      const second = await runCli(['apply', fx.planFile, '--yes', '--jobs', '2'], fx.env);
      expect(second.code, second.stderr).toBe(5);
      expect(second.stderr).toContain(`another apply of split "${fx.name}" holds the lock`);
      expect(second.stderr).toContain(`application "cloudphone-split apply ${fx.name}"`);
      expect(second.stderr).toMatch(/backend pid \d+/);
    } finally {
      await watch.close();
    }
    const end = await first.done;
    expect(end.code, end.stderr).toBe(0);
  });

  it('a target server older than the source: preflight says so (exit 3) and creates nothing there', async () => {
    const fx = await fixture({ targets: pg15() });
    await fx.plan();
    const r = await fx.cli('apply', fx.planFile, '--yes');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('server target runs PostgreSQL 15, older than the source\'s 18');
    const onTarget = await query(pg15(), `SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${fx.prefix}%`]);
    expect(onTarget).toEqual([]);
    expect(await query(pg15(), `SELECT rolname FROM pg_roles WHERE rolname LIKE $1`, [`${fx.prefix}%`])).toEqual([]);
    expect(await fenceTriggers(fx)).toBe(0);
  });

  it('a non-empty target database it did not create: preflight stops before anything is created (exit 3)', async () => {
    const fx = await fixture();
    await fx.plan();
    const billing = fx.service('billing');
    await query(servers().main, `CREATE DATABASE "${billing.database}"`);
    await query(billing.url, `CREATE TABLE precious (id int); INSERT INTO precious VALUES (42)`);
    const r = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`database ${billing.database} already exists on server source and is not empty; it was not created by this split`);
    expect(r.stderr, 'a failed preflight asks for its fixes, not for a resume').toContain('fix what preflight lists above, then rerun `cloudphone-split apply`');
    expect(r.stderr).not.toContain('to resume where it stopped');
    expect(await databasesWithPrefix(fx)).toEqual([billing.database, fx.sourceDb, `${fx.prefix}control`].sort());
    expect(await rolesWithPrefix(fx)).toEqual([]);
    expect(await fenceTriggers(fx)).toBe(0);
    expect(await query(billing.url, `SELECT id FROM precious`)).toEqual([{ id: 42 }]);
  });

  it('a non-empty target database that appeared after preflight: create_database refuses to adopt it (exit 3)', async () => {
    const fx = await fixture();
    const plan = await fx.plan();
    await query(servers().main, `CREATE DATABASE "${fx.prefix}control"`);
    const watch = await SplitWatch.open(fx);
    const preflight = plan.steps[0]!.id;
    try {
      const k = await applyAndKill(fx, watch, async () => (await watch.steps()).get(preflight)?.state === 'done');
      expect(k.killed).toBe(true);
    } finally {
      await watch.close();
    }
    const billing = fx.service('billing');
    expect(await databasesWithPrefix(fx), 'billing not created before the kill').not.toContain(billing.database);
    await query(servers().main, `CREATE DATABASE "${billing.database}"`);
    await query(billing.url, `CREATE TABLE precious (id int); INSERT INTO precious VALUES (42)`);
    const r = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`step create_database:${billing.database} failed`);
    expect(r.stderr.split(`step create_database:${billing.database} failed`).length - 1, 'the step is named once').toBe(1);
    expect(r.stderr).toContain('refusing to adopt it');
    expect(await query(billing.url, `SELECT id FROM precious`)).toEqual([{ id: 42 }]);
    expect(await fenceTriggers(fx)).toBe(0);
  });
});
