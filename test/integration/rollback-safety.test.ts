import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { query, servers, withDatabase, second } from '../harness/servers.js';
import { splitFixture, sampleTemplate, dropTemplate, type SplitFixture } from './helpers/split-fixture.js';
import { runCli } from './helpers/cli.js';
import { writePlanFile } from '../../src/plan/plan-file.js';
import type { Plan } from '../../src/plan/model.js';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

const fixtures: SplitFixture[] = [];
let template = '';
beforeAll(async () => {
  template = await sampleTemplate(servers().main, 0.25);
});
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
  await dropTemplate(servers().main, template);
});

const q = (name: string): string => `"${name.replaceAll('"', '""')}"`;

async function exists(server: string, database: string): Promise<boolean> {
  return (await query(server, `SELECT 1 FROM pg_database WHERE datname = $1`, [database])).length === 1;
}

async function fixture(opts: Parameters<typeof splitFixture>[0] = {}): Promise<SplitFixture> {
  const fx = await splitFixture({ template, ...opts });
  fixtures.push(fx);
  return fx;
}

let applied: Promise<SplitFixture> | undefined;
/**
 * One split applied once (whole plan, on the main server), shared by the cases that tamper
 * with it and check that rollback refuses and changes nothing: each undoes its tampering
 * afterwards, and the one that cannot (2c) comes last.
 */
function appliedSplit(): Promise<SplitFixture> {
  applied ??= (async () => {
    const fx = await fixture();
    const r = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(r.code, r.stderr).toBe(0);
    return fx;
  })();
  return applied;
}

/** The same server under its other loopback name: another URL, the same cluster. */
function aliasOf(url: string): string {
  const u = new URL(url);
  u.hostname = u.hostname === 'localhost' ? '127.0.0.1' : 'localhost';
  return u.toString();
}

describe('rollback never drops what holds new data or what it did not create', () => {
  it('1. a database without tables (tables: []) that a service filled is kept: exit 1 naming it', async () => {
    const fx = await appliedSplit();
    const notification = fx.service('notification');
    await query(notification.url, `CREATE TABLE notifications (id int PRIMARY KEY, body text); INSERT INTO notifications SELECT g, 'n' || g FROM generate_series(1, 500) g`);

    const r = await fx.cli('rollback', '--yes');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`${notification.database}: public.notifications: a table the split did not create, holding 500 rows`);
    expect(r.stderr).toContain('nothing was changed');
    expect(await query(notification.url, `SELECT count(*)::int AS n FROM notifications`)).toEqual([{ n: 500 }]);
    for (const s of fx.services) expect(await exists(s.serverUrl, s.database), s.database).toBe(true);
    // Put back: the next cases roll back the same split.
    await query(notification.url, `DROP TABLE notifications`);
  });

  it('1b. a database where a service drew numbers from a sequence, made a view, a function or an index, or changed a column, is kept: exit 1 naming each', async () => {
    const fx = await appliedSplit();
    const user = fx.service('user');
    const [sequence] = await query<{ s: string }>(user.url, `SELECT pg_get_serial_sequence('users', 'id') AS s`);
    const [before] = await query<{ last: string; called: boolean }>(user.url, `SELECT last_value::text AS last, is_called AS called FROM ${sequence!.s}`);
    const [note] = await query<{ c: string | null }>(user.url, `SELECT obj_description('users'::regclass, 'pg_class') AS c`);
    await query(
      user.url,
      `SELECT nextval('${sequence!.s}');
       CREATE VIEW recent_users AS SELECT id FROM users;
       CREATE FUNCTION user_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM users';
       CREATE INDEX users_phone_idx ON users (phone);
       ALTER TABLE users ALTER COLUMN phone SET DEFAULT 'none';
       SELECT lo_from_bytea(0, 'payload');
       COMMENT ON TABLE users IS 'a note the service wrote';`,
    );
    const r = await fx.cli('rollback', '--yes');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`${user.database}: sequence public\\.users_id_seq gave out values since the copy \\(last value \\S+ then, \\S+ now\\)`));
    expect(r.stderr).toContain(`${user.database}: view public.recent_users was created since the copy`);
    expect(r.stderr).toContain(`${user.database}: function public.user_count() was created since the copy`);
    expect(r.stderr).toContain(`${user.database}: index public.users_phone_idx was created since the copy`);
    expect(r.stderr).toMatch(new RegExp(`${user.database}: column public\\.users\\.phone was changed since the copy \\(text then, text DEFAULT 'none'::text now\\)`));
    expect(r.stderr).toContain(`${user.database}: 1 large object (lo_create, lo_import...), which the copy never makes`);
    expect(r.stderr).toMatch(new RegExp(`${user.database}: comment on relation public\\.users was (changed|created) since the copy`));
    expect(r.stderr).toContain('nothing was changed');
    for (const s of fx.services) expect(await exists(s.serverUrl, s.database), s.database).toBe(true);
    // Put back: the next cases roll back the same split.
    await query(user.url, `DROP VIEW recent_users; DROP FUNCTION user_count(); DROP INDEX users_phone_idx; ALTER TABLE users ALTER COLUMN phone DROP DEFAULT; SELECT setval('${sequence!.s}', ${before!.last}, ${before!.called}); SELECT lo_unlink(oid) FROM pg_largeobject_metadata; COMMENT ON TABLE users IS ${note!.c === null ? 'NULL' : `'${note!.c.replaceAll("'", "''")}'`}`);
  });

  it('1c. a sequence that only gave out values (an INSERT that failed) is kept too, and the fix gives the statement that sets it back', async () => {
    const fx = await appliedSplit();
    const user = fx.service('user');
    const [sequence] = await query<{ s: string }>(user.url, `SELECT pg_get_serial_sequence('users', 'id') AS s`);
    const state = () => query<{ last: string; called: boolean }>(user.url, `SELECT last_value::text AS last, is_called AS called FROM ${sequence!.s}`);
    const before = await state();
    // The INSERT fails (a NOT NULL column left out) after drawing its id.
    await expect(query(user.url, `INSERT INTO users (username) VALUES ('never')`)).rejects.toThrow(/null value/);
    const r = await fx.cli('rollback', '--yes');
    expect(r.code, r.stderr).toBe(1);
    const set = `SELECT setval('public.users_id_seq', ${before[0]!.last})`;
    expect(r.stderr).toContain(`fix: no row changed, only sequences moved on (an INSERT that failed or was rolled back draws a value too): if nothing uses the values they gave out, set each back and run rollback again (in ${user.database}: ${set}); if a service did write there, keep the split`);
    // The statement it gives puts the sequence back as the copy left it (the next cases roll back the same split).
    await query(user.url, set);
    expect(await state()).toEqual(before);
  });

  it('2a. a database whose CREATE DATABASE failed and that someone then made by hand is never dropped', async () => {
    const fx = await fixture();
    const app = fx.service('app');
    const plan = await fx.plan();
    // The statement fails: here, a locale no server has, in the reviewed plan.
    const step = plan.steps.find((s) => s.kind === 'create_database' && s.target.database === app.database)!;
    step.sql = [step.sql[0]!.replace(/LC_COLLATE '[^']*'/, `LC_COLLATE 'no_such_locale'`)];
    // Written as `plan` writes it (with its digest), so the statement is what fails, not the file.
    await writePlanFile(fx.planFile, plan satisfies Plan);
    const applied = await runCli(['apply', fx.planFile, '--yes', '--jobs', '1'], fx.env);
    expect(applied.code, applied.stderr).toBe(3);
    expect(applied.stderr).toContain('no_such_locale');
    expect(await exists(fx.sourceServer, app.database)).toBe(false);

    // The journal forgot the database it failed to create.
    expect(await query(fx.controlUrl, `SELECT name FROM cloudphone_split.created_objects WHERE kind = 'database' AND name = $1`, [app.database])).toEqual([]);

    await query(fx.sourceServer, `CREATE DATABASE ${q(app.database)}`);
    await query(app.url, `CREATE TABLE precious (id int); INSERT INTO precious SELECT generate_series(1, 10)`);
    // A rerun refuses to take it; rollback undoes the rest and leaves it alone.
    const rerun = await runCli(['apply', fx.planFile, '--yes', '--jobs', '1'], fx.env);
    expect(rerun.code).toBe(3);
    expect(rerun.stderr).toContain(`database ${app.database} already exists on server source and holds 1 relations that this split did not create`);
    const r = await fx.cli('rollback', '--yes', '--json');
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { dropped: { databases: Array<{ name: string }> } };
    expect(report.dropped.databases.map((d) => d.name)).not.toContain(app.database);
    expect(await query(app.url, `SELECT count(*)::int AS n FROM precious`)).toEqual([{ n: 10 }]);
  });

  it('2b. an edited server URL never aims the drop at another cluster', async () => {
    const fx = await fixture({ billing: second() });
    const billing = fx.service('billing');
    const applied = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr).toBe(0);
    // Another cluster holds a database of the same name, with data of its own.
    const main = withDatabase(servers().main, 'postgres');
    await query(main, `CREATE DATABASE ${q(billing.database)}`);
    try {
      await query(withDatabase(main, billing.database), `CREATE TABLE ledger (id int); INSERT INTO ledger SELECT generate_series(1, 42)`);
      const edited = { ...fx.env, BILLING_PG_URL: main };
      const r = await runCli(['rollback', '-m', fx.manifestFile, '--yes'], edited);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`database ${billing.database} on server billing-pg: the server is not the one where the split created database ${billing.database} \\(system identifier \\d+ then, \\d+ now`));
      expect(r.stderr).toContain('nothing was changed');
      expect(await query(withDatabase(main, billing.database), `SELECT count(*)::int AS n FROM ledger`)).toEqual([{ n: 42 }]);
      expect(await exists(second(), billing.database)).toBe(true);
      // With the URL of the server the split ran on, it rolls back.
      const back = await fx.cli('rollback', '--yes');
      expect(back.code, back.stderr).toBe(0);
      expect(await exists(second(), billing.database)).toBe(false);
      expect(await query(withDatabase(main, billing.database), `SELECT count(*)::int AS n FROM ledger`)).toEqual([{ n: 42 }]);
    } finally {
      await query(main, `DROP DATABASE IF EXISTS ${q(billing.database)} WITH (FORCE)`);
    }
  });

  it('2d. a journal of an earlier version (no OID, no server identity recorded) is refused with the reason, not guessed', async () => {
    const fx = await appliedSplit();
    // Put back after the case: the next one rolls back the same split.
    const recorded = await query<{ kind: string; server: string; name: string; detail: unknown }>(
      fx.controlUrl,
      `SELECT kind, server, name, detail FROM cloudphone_split.created_objects WHERE kind IN ('database', 'role')`,
    );
    await query(fx.controlUrl, `UPDATE cloudphone_split.created_objects SET detail = NULL WHERE kind IN ('database', 'role')`);
    const r = await fx.cli('rollback', '--yes');
    expect(r.code, r.stderr).toBe(1);
    for (const s of fx.services) {
      expect(r.stderr).toContain(`database ${s.database} on server source: the journal holds no OID and server identity for database ${s.database} (recorded by an earlier version`);
      expect(r.stderr).toContain(`role ${s.role} on server source: the journal holds no OID`);
      expect(await exists(s.serverUrl, s.database), s.database).toBe(true);
    }
    for (const o of recorded) {
      await query(fx.controlUrl, `UPDATE cloudphone_split.created_objects SET detail = $4::jsonb WHERE kind = $1 AND server = $2 AND name = $3`, [
        o.kind,
        o.server,
        o.name,
        o.detail === null ? null : JSON.stringify(o.detail),
      ]);
    }
  });

  it('2c. a role dropped and created again by someone else is not the split\'s to drop', async () => {
    const fx = await appliedSplit();
    const notification = fx.service('notification');
    await query(fx.sourceServer, `DROP DATABASE ${q(notification.database)} WITH (FORCE)`);
    await query(fx.sourceServer, `DROP ROLE ${q(notification.role)}`);
    await query(fx.sourceServer, `CREATE ROLE ${q(notification.role)}`);
    const r = await fx.cli('rollback', '--yes');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`role ${notification.role} on server source: role ${notification.role} is not the one this split created \\(OID \\d+ then, \\d+ now\\)`));
    expect(await query(fx.sourceServer, `SELECT 1 AS one FROM pg_roles WHERE rolname = $1`, [notification.role])).toEqual([{ one: 1 }]);
  });

  it('3. after repoint_config and before schedule_retention, an UPDATE by a repointed service is caught', async () => {
    const fx = await fixture({
      withConfig: true,
      edit: (doc) => {
        const services = doc.services as Record<string, Record<string, unknown>>;
        services['notification-service']!.restart = 'exit 9';
      },
    });
    const applied = await fx.cli('apply', '--yes', '--jobs', '1');
    expect(applied.code).toBe(3);
    expect(applied.stderr).toContain('exited with 9');
    const status = JSON.parse((await fx.cli('status', '--json')).stdout) as { runs: Array<{ steps: Array<{ id: string; state: string }> }> };
    const steps = status.runs[0]!.steps;
    expect(steps.find((s) => s.id.startsWith('schedule_retention'))!.state).not.toBe('done');
    const repointed = steps.filter((s) => s.id.startsWith('repoint_config') && s.state === 'done').map((s) => s.id);
    const device = fx.service('device');
    expect(repointed.some((id) => id.includes(device.database))).toBe(true);

    // Same row count, one value changed.
    await query(device.url, `SET session_replication_role = replica; UPDATE devices SET name = name || ' (renamed)' WHERE id = (SELECT min(id) FROM devices)`);
    const r = await fx.cli('rollback', '--yes');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`${device.database}: public.devices: same row count, but rows were changed (checksum differs)`);
    const [row] = await query<{ name: string }>(device.url, `SELECT name FROM devices WHERE id = (SELECT min(id) FROM devices)`);
    expect(row!.name).toMatch(/ \(renamed\)$/);
    expect(await exists(fx.sourceServer, device.database)).toBe(true);
  });

  it('3b. a write made after rollback\'s check (here by a restart command, as a service still connected would) keeps that database: it is closed, its sessions ended and checked again right before the drop', async () => {
    // The device service's restart command writes to its new database when LATE_WRITE_URL is set: during rollback only.
    const script = `const u = process.env.LATE_WRITE_URL; if (u) { const pg = require(process.env.PG_MODULE); const c = new pg.Client({ connectionString: u }); c.connect().then(() => c.query("UPDATE devices SET name = name || ' (late)' WHERE id = (SELECT min(id) FROM devices)")).then(() => c.end()).catch((e) => { console.error(e.message); process.exit(1); }); }`;
    const fx = await fixture({
      withConfig: true,
      edit: (doc) => {
        const services = doc.services as Record<string, Record<string, unknown>>;
        services['device-service']!.restart = `node -e ${JSON.stringify(script)}`;
      },
    });
    const applied = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr).toBe(0);
    const device = fx.service('device');
    const r = await runCli(['rollback', '-m', fx.manifestFile, '--yes'], { ...fx.env, LATE_WRITE_URL: device.url, PG_MODULE: require.resolve('pg') });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toContain(`not dropped: ${device.database} on source: written to after rollback checked it, so it was kept: public.devices: same row count, but rows were changed (checksum differs)`);
    // The write is there, and the database takes connections again.
    const [row] = await query<{ name: string }>(device.url, `SELECT name FROM devices WHERE id = (SELECT min(id) FROM devices)`);
    expect(row!.name).toMatch(/ \(late\)$/);
    // The databases nobody wrote to are dropped.
    for (const s of fx.services.filter((x) => x.database !== device.database)) expect(await exists(s.serverUrl, s.database), s.database).toBe(false);
    const again = await runCli(['rollback', '-m', fx.manifestFile, '--yes'], fx.env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${device.database}: public.devices: same row count, but rows were changed (checksum differs)`);

    // Left closed, as by a rollback killed between closing it and its drop: the next one opens it again to check it (and still refuses).
    await query(fx.sourceServer, `ALTER DATABASE "${device.database}" ALLOW_CONNECTIONS false`);
    const reopened = await runCli(['rollback', '-m', fx.manifestFile, '--yes'], fx.env);
    expect(reopened.code, reopened.stdout + reopened.stderr).toBe(1);
    expect(reopened.stderr).toContain(`${device.database} on source was left closed to new sessions by a rollback stopped before its drop: opened again`);
    expect(reopened.stderr).toContain(`${device.database}: public.devices: same row count, but rows were changed (checksum differs)`);
    expect(await query(fx.sourceServer, `SELECT datallowconn AS open FROM pg_database WHERE datname = $1`, [device.database])).toEqual([{ open: true }]);
  });

  it('4. the control database is never a target: plan exits 2, apply\'s preflight refuses a control URL under another host name', async () => {
    const fx = await fixture({
      edit: (doc) => {
        const services = doc.services as Record<string, Record<string, unknown>>;
        services['notification-service']!.database = `${(doc.name as string).replace(/cloudphone$/, '')}control`;
      },
    });
    const control = `${fx.prefix}control`;
    expect(fx.service('notification').database).toBe(control);
    // Another split's journal already lives there.
    const other = await fixture();
    const otherEnv = { ...other.env, SPLIT_CONTROL_URL: fx.controlUrl };
    const first = await runCli(['apply', '-m', other.manifestFile, '--yes', '--jobs', '2'], otherEnv);
    expect(first.code, first.stderr).toBe(0);
    const journalRows = async () => query(fx.controlUrl, `SELECT split, state FROM cloudphone_split.retention ORDER BY split`);
    const before = await journalRows();
    expect(before).toHaveLength(1);

    const planned = await fx.cli('plan');
    expect(planned.code).toBe(2);
    expect(planned.stderr).toContain(`services.notification-service.database: ${control} is the control database that holds the journal`);
    const applied = await fx.cli('apply', '--yes');
    expect(applied.code).toBe(2);

    const aliased = { ...fx.env, SPLIT_CONTROL_URL: aliasOf(fx.controlUrl) };
    const viaAlias = await runCli(['apply', '-m', fx.manifestFile, '--yes', '--jobs', '2'], aliased);
    expect(viaAlias.code).toBe(3);
    expect(viaAlias.stderr).toContain(`database ${control} on server source is the control database that holds the journal`);
    expect(await journalRows()).toEqual(before);
    expect(await query(fx.sourceServer, `SELECT 1 AS one FROM pg_database WHERE datname = $1`, [`${fx.prefix}cloudphone_device`])).toEqual([]);
  });

  it('4b. a database holding another journal (only the tool\'s schema) is never adopted', async () => {
    const owner = await fixture();
    const ownerRun = await owner.cli('apply', '--yes', '--jobs', '2');
    expect(ownerRun.code, ownerRun.stderr).toBe(0);
    const fx = await fixture({
      edit: (doc) => {
        const services = doc.services as Record<string, Record<string, unknown>>;
        services['notification-service']!.database = `${owner.prefix}control`;
      },
    });
    const applied = await fx.cli('apply', '--yes', '--jobs', '1');
    expect(applied.code).toBe(3);
    expect(applied.stderr).toContain(`database ${owner.prefix}control on server source holds a cloudphone-split journal`);
    expect(await query(owner.controlUrl, `SELECT count(*)::int AS n FROM cloudphone_split.retention`)).toEqual([{ n: 1 }]);
    const r = await fx.cli('rollback', '--yes');
    expect(r.code, r.stderr).toBe(0);
    expect(await query(owner.controlUrl, `SELECT count(*)::int AS n FROM cloudphone_split.retention`)).toEqual([{ n: 1 }]);
  });
});
