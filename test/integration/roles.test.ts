import { readFile, writeFile } from 'node:fs/promises';
import pg from 'pg';
import { parse, stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { query, servers, withDatabase, second } from '../harness/servers.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';

const fixtures: SplitFixture[] = [];
const roles: string[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
  for (const r of roles) {
    for (const db of ['postgres']) await query(withDatabase(servers().main, db), `DROP OWNED BY "${r}"`).catch(() => undefined);
    await query(servers().main, `DROP ROLE IF EXISTS "${r}"`).catch(() => undefined);
  }
});

async function fixture(opts: Parameters<typeof splitFixture>[0] = {}): Promise<SplitFixture> {
  const fx = await splitFixture({ source: servers().main, ...opts });
  fixtures.push(fx);
  return fx;
}

/** Whether `role` logs in with `password` on the main server. */
async function logsIn(role: string, password: string): Promise<boolean> {
  const url = new URL(servers().main);
  url.username = role;
  url.password = password;
  const c = new pg.Client({ connectionString: url.toString() });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    return false;
  }
}

async function databasesOf(fx: SplitFixture): Promise<string[]> {
  const rows = await query<{ datname: string }>(servers().main, `SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY 1`, [`${fx.prefix}%`]);
  return rows.map((r) => r.datname);
}

describe('a service role that already exists', () => {
  it('is refused unless the manifest says existing: true, and then its password is never changed, not even by rollback', async () => {
    const fx = await fixture();
    const user = fx.service('user');
    const original = 'the-password-it-had';
    // A login role of the same name exists before the split, not created by it.
    await query(servers().main, `CREATE ROLE "${user.role}" LOGIN PASSWORD '${original}'`);
    const before = await databasesOf(fx);

    const refused = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toContain(`role ${user.role} already exists on server source and was not created by this split: refusing to adopt it`);
    expect(refused.stderr).toContain(`Write existing: true under services.user-service.role`);
    expect(await logsIn(user.role, original)).toBe(true);
    expect(await logsIn(user.role, user.password)).toBe(false);
    // Preflight refused before any change: only the control database is new.
    expect(await databasesOf(fx)).toEqual([...before, `${fx.prefix}control`].sort());

    // existing: true adopts it as it is.
    const doc = parse(await readFile(fx.manifestFile, 'utf8')) as { services: Record<string, { role: Record<string, unknown> }> };
    doc.services['user-service']!.role.existing = true;
    await writeFile(fx.manifestFile, stringify(doc, { lineWidth: 0 }));
    // Adopted as it is, it may own a moved table in the source: the plan says what that means for verify.
    await query(fx.sourceUrl, `ALTER TABLE quotas OWNER TO "${user.role}"`);
    const planned = await fx.cli('plan');
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.stdout).toContain(`user-service: ${user.role} (existing) owns public.quotas in the source, and an owner keeps every right on its tables`);
    expect(planned.stdout).toContain(`verify's isolation check fails until another role owns them there`);
    await query(fx.sourceUrl, `ALTER TABLE quotas OWNER TO CURRENT_USER`);
    const applied = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    expect(await logsIn(user.role, original)).toBe(true);
    expect(await logsIn(user.role, user.password)).toBe(false);
    const [owner] = await query<{ owner: string }>(servers().main, `SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1`, [user.database]);
    expect(owner!.owner).toBe(user.role);

    const rolledBack = await fx.cli('rollback', '--yes');
    expect(rolledBack.code, rolledBack.stderr + rolledBack.stdout).toBe(0);
    expect(await logsIn(user.role, original)).toBe(true);
    const others = await query<{ rolname: string }>(servers().main, `SELECT rolname FROM pg_roles WHERE rolname = ANY($1) ORDER BY 1`, [fx.services.map((s) => s.role)]);
    expect(others.map((r) => r.rolname)).toEqual([user.role]);
  });

  it('existing: true for a role that does not exist is refused before any change', async () => {
    const fx = await fixture({
      edit: (doc) => {
        const spec = (doc.services as Record<string, { role: Record<string, unknown> }>)['user-service']!;
        spec.role.existing = true;
      },
    });
    const r = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(`role ${fx.service('user').role} does not exist on server source, but services.user-service.role says existing: true`);
    expect(await databasesOf(fx)).toEqual([`${fx.prefix}cloudphone_core`, `${fx.prefix}control`]);
  });

  it('existing must be true or false', async () => {
    const fx = await fixture({
      edit: (doc) => {
        const spec = (doc.services as Record<string, { role: Record<string, unknown> }>)['user-service']!;
        spec.role.existing = 'yes';
      },
    });
    const r = await fx.cli('plan');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('services.user-service.role.existing: must be true or false');
  });
});

/** A login role with CREATEDB and CREATEROLE, not superuser; the fixture's URLs switched to it. */
async function asAdmin(fx: SplitFixture): Promise<string> {
  const admin = `${fx.prefix}admin`;
  roles.push(admin);
  await query(servers().main, `CREATE ROLE "${admin}" LOGIN CREATEDB CREATEROLE PASSWORD 'admin-pw'`);
  connectAs(fx, admin, 'admin-pw');
  return admin;
}

/** Switches the fixture's source and control URLs to `role`. */
function connectAs(fx: SplitFixture, role: string, password: string): void {
  const as = (u: string) => {
    const url = new URL(u);
    url.username = role;
    url.password = password;
    return url.toString();
  };
  fx.env.CLOUDPHONE_CORE_URL = as(fx.sourceUrl);
  fx.env.SPLIT_CONTROL_URL = as(fx.controlUrl);
}

/** Makes `role` the owner of the source database and of every table, sequence and view in it. */
async function giveSource(fx: SplitFixture, role: string): Promise<void> {
  await query(servers().main, `ALTER DATABASE "${fx.sourceDb}" OWNER TO "${role}"`);
  await query(
    fx.sourceUrl,
    `DO $$ DECLARE r record; BEGIN
       FOR r IN SELECT c.oid::regclass AS t, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
                  AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
       LOOP EXECUTE format('ALTER %s %s OWNER TO %I', CASE r.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, r.t, '${role}'); END LOOP;
     END $$`,
  );
}

describe('a tool role with CREATEDB and CREATEROLE that is not superuser', () => {
  it('splits a source it owns: the roles it creates are granted to it, so create_database can make them owners', async () => {
    const fx = await fixture();
    const admin = await asAdmin(fx);
    await giveSource(fx, admin);
    // A publication FOR TABLE: made again by a role that is not superuser, then handed to the service role.
    await query(fx.sourceUrl, `CREATE PUBLICATION users_feed FOR TABLE users WITH (publish = 'insert, update')`);
    const applied = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    for (const s of fx.services) {
      const [row] = await query<{ owner: string }>(servers().main, `SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1`, [s.database]);
      expect(row!.owner).toBe(s.role);
    }
    const user = fx.service('user');
    expect(
      await query(user.url, `SELECT pubname AS p, pg_get_userbyid(pubowner) AS o, pubinsert AS i, pubdelete AS d FROM pg_publication`),
    ).toEqual([{ p: 'users_feed', o: user.role, i: true, d: false }]);
    fx.env.CLOUDPHONE_CORE_URL = fx.sourceUrl;
    fx.env.SPLIT_CONTROL_URL = fx.controlUrl;
    const verified = await fx.cli('verify', '--checksums');
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  });

  it('preflight names each missing ownership and membership, with the GRANT that fixes it, before changing anything', async () => {
    const fx = await fixture();
    const admin = await asAdmin(fx);
    const user = fx.service('user');
    await query(servers().main, `CREATE ROLE "${user.role}" LOGIN`);
    const doc = parse(await readFile(fx.manifestFile, 'utf8')) as { services: Record<string, { role: Record<string, unknown> }> };
    doc.services['user-service']!.role.existing = true;
    await writeFile(fx.manifestFile, stringify(doc, { lineWidth: 0 }));
    // A publication of every table: made again in each new database, which only a superuser may do.
    await query(fx.sourceUrl, `CREATE PUBLICATION everything FOR ALL TABLES WITH (publish = 'insert')`);
    const [sums] = await query<{ n: number }>(fx.sourceUrl, `SELECT count(*)::int AS n FROM users`);

    const r = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(`server source: role ${admin} is not a member of ${user.role} (needed to make it the owner of its database): run as a superuser (or a member of ${user.role} with ADMIN OPTION): GRANT "${user.role}" TO "${admin}"`);
    // The test servers' password is "postgres", the owner's name too: the scrubber masks it as ***.
    const owner = '(?:postgres|\\*\\*\\*)';
    // Their owner is a superuser: membership of it is never the advice (the role could act as a superuser).
    expect(r.stderr).toMatch(
      new RegExp(`source: role ${admin} does not own \\d+ moved tables \\(owner ${owner}: .*\\), needed to fence them: ${owner} is a superuser, and a member of it could act as one, so do not grant it: run as a superuser, or have one give each table to the tool's role \\(ALTER TABLE .+ … OWNER TO "${admin}"\\)`),
    );
    expect(r.stderr).toMatch(new RegExp(`source: role ${admin} does not own database ${fx.sourceDb} \\(owner ${owner}\\), needed to keep it as a read-only backup: ${owner} is a superuser`));
    expect(r.stderr).not.toMatch(new RegExp(`GRANT "${owner}" TO`));
    // sync_sequences reads each moved sequence (invoice_number_seq, which a default names without OWNED BY, too).
    expect(r.stderr).toMatch(new RegExp(`source: role ${admin} may not read \\d+ sequences that sync_sequences sets the new databases from \\(.*\\): run as a superuser or the sequences' owner, or: GRANT SELECT ON SEQUENCE .*"public"\\."users_id_seq".* TO "${admin}"`));
    expect(r.stderr).toContain(
      `server source: publication everything of the source is made again in ${user.database} (FOR ALL TABLES), which only a superuser may create: run as a superuser`,
    );
    expect(await databasesOf(fx)).toEqual([`${fx.prefix}cloudphone_core`, `${fx.prefix}control`]);
    const made = await query<{ rolname: string }>(servers().main, `SELECT rolname FROM pg_roles WHERE rolname = ANY($1)`, [fx.services.map((s) => s.role)]);
    expect(made.map((m) => m.rolname)).toEqual([user.role]);
    const [after] = await query<{ n: number }>(fx.sourceUrl, `SELECT count(*)::int AS n FROM users`);
    expect(after!.n).toBe(sums!.n);
  });
});

describe('a schema the tool role may not use', () => {
  it('is named by preflight with the GRANT that fixes it, among the other problems, not a bare "permission denied"', async () => {
    const fx = await fixture({ scale: 0.05 });
    const admin = await asAdmin(fx);
    await query(fx.sourceUrl, `REVOKE ALL ON SCHEMA public FROM PUBLIC`);
    const r = await fx.cli('apply', '--yes');
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(`source: role ${admin} has no USAGE on schema public, whose tables and sequences the split reads and fences: as its owner, GRANT USAGE ON SCHEMA "public" TO "${admin}", or run as a superuser`);
    expect(r.stderr).not.toContain('permission denied for schema');
    expect(await databasesOf(fx)).toEqual([`${fx.prefix}cloudphone_core`, `${fx.prefix}control`]);
  });
});

describe("the source database's settings a tool role may not set", () => {
  it('are named by preflight with the GRANT SET ON PARAMETER that fixes them, before any database is made (create_database failed there, every rerun the same)', async () => {
    const fx = await fixture({ scale: 0.05 });
    const admin = await asAdmin(fx);
    await query(fx.sourceUrl, `ALTER DATABASE "${fx.sourceDb}" SET log_min_duration_statement = '1s'; ALTER DATABASE "${fx.sourceDb}" SET app.mode = 'blue'; ALTER DATABASE "${fx.sourceDb}" SET statement_timeout = '5min'`);
    const r = await fx.cli('apply', '--yes');
    expect(r.code, r.stderr).toBe(3);
    // A superuser's setting, and an application's own (from PostgreSQL 15 only with SET granted on it); not statement_timeout.
    expect(r.stderr).toContain(
      `server source: role ${admin} may not set app.mode, log_min_duration_statement on the new databases (the source database's settings, which create_database sets there): ` +
        `as a superuser, GRANT SET ON PARAMETER "app.mode", "log_min_duration_statement" TO "${admin}", or run as a superuser`,
    );
    expect(r.stderr).not.toMatch(/may not set [^\n]*statement_timeout/);
    expect(await databasesOf(fx)).toEqual([`${fx.prefix}cloudphone_core`, `${fx.prefix}control`]);
  });
});

describe('row-level security that applies to the tool role', () => {
  it('is refused by preflight before anything is made; with BYPASSRLS every row is copied; a check that would read filtered rows fails, it never passes on them', async () => {
    const fx = await fixture({ scale: 0.05 });
    const admin = await asAdmin(fx);
    await giveSource(fx, admin);
    // The sample's payments has a tenant policy; FORCE applies it to its owner, the tool role.
    await query(fx.sourceUrl, `ALTER TABLE payments FORCE ROW LEVEL SECURITY`);
    const [all] = await query<{ n: number }>(fx.sourceUrl, `SELECT count(*)::int AS n FROM payments`);
    expect(all!.n).toBeGreaterThan(0);
    const asTool = new URL(fx.sourceUrl);
    asTool.username = admin;
    asTool.password = 'admin-pw';
    const [seen] = await query<{ n: number }>(asTool.toString(), `SELECT count(*)::int AS n FROM payments`);
    expect(seen!.n, 'the policy hides rows from the tool role').toBeLessThan(all!.n);

    const refused = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toContain(
      `source: row-level security filters what role ${admin} reads from public.payments (FORCE ROW LEVEL SECURITY: its policies apply to its owner too): ` +
        `a copy would leave out every row its policies hide. Give the role BYPASSRLS (as a superuser: ALTER ROLE "${admin}" BYPASSRLS), or run as a superuser`,
    );
    expect(await databasesOf(fx)).toEqual([`${fx.prefix}cloudphone_core`, `${fx.prefix}control`]);

    await query(servers().main, `ALTER ROLE "${admin}" BYPASSRLS`);
    const applied = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    const billing = fx.service('billing');
    const [copied] = await query<{ n: number }>(billing.url, `SELECT count(*)::int AS n FROM payments`);
    expect(copied!.n).toBe(all!.n);

    // Without BYPASSRLS, verify reads both sides through the policy (the source's FORCE, and the target's table is not the
    // tool's): it fails saying so, where reading the filtered rows on both sides would have compared equal and passed.
    await query(servers().main, `ALTER ROLE "${admin}" NOBYPASSRLS`);
    const verified = await fx.cli('verify', '--checksums');
    expect(verified.code, verified.stdout).not.toBe(0);
    expect(verified.stdout).toMatch(/\? rowcount +public\.payments +cannot count rows: query would be affected by row-level security policy for table "payments"/);
    // The fence's own check writes as any session would, and still sees the fence.
    expect(verified.stdout).toMatch(/✓ fence +public\.payments +fenced: a write fails with 25006/);
  });
});

describe('online mode with a tool role that is not superuser', () => {
  it('preflight names every attribute the replication roles need and a statement log that would keep their passwords, before anything is made', async () => {
    const fx = await fixture({ scale: 0.05, edit: (doc) => void (doc.mode = 'online') });
    await query(fx.sourceUrl, `ALTER TABLE user_login_history REPLICA IDENTITY FULL`);
    const admin = await asAdmin(fx);
    await giveSource(fx, admin);
    // The server logs the DDL of this role, which it may not turn off: CREATE SUBSCRIPTION would log a password.
    await query(servers().main, `ALTER ROLE "${admin}" SET log_statement = 'ddl'`);
    const q = `"${admin}"`;
    const r = await fx.cli('apply', '--yes');
    expect(r.code, r.stderr).toBe(3);
    // payments has row-level security: the replication roles get BYPASSRLS, which only a role that has it may give.
    expect(r.stderr).toContain(
      `server source: the role the subscriptions of online mode log in as is a LOGIN REPLICATION BYPASSRLS role: role ${admin} needs REPLICATION to create its slot and give the role REPLICATION; ` +
        `BYPASSRLS to give it BYPASSRLS (public.payments has row-level security, which would hide rows from it): as a superuser, ALTER ROLE ${q} REPLICATION BYPASSRLS`,
    );
    expect(r.stderr).toContain(`server source: the role reverse replication logs in as after cutover (it carries writes back to the source for rollback) is a LOGIN REPLICATION BYPASSRLS role: role ${admin} needs REPLICATION`);
    expect(r.stderr).toContain(
      `server source: log_statement is ddl and role ${admin} may not turn it off for its session: CREATE SUBSCRIPTION (replication into the new databases and reverse replication after cutover) would write a replication password into the server log; ` +
        `as a superuser: GRANT SET ON PARAMETER log_statement, log_min_duration_statement, log_min_error_statement TO ${q} (PostgreSQL 15 and later), or run as a superuser, or set log_statement to none`,
    );
    expect(r.stdout + r.stderr).toContain(`log_min_error_statement is error and role ${admin} may not raise it: a CREATE SUBSCRIPTION (replication into the new databases and reverse replication after cutover) that fails is logged with its replication password`);
    expect(await databasesOf(fx)).toEqual([`${fx.prefix}cloudphone_core`, `${fx.prefix}control`]);

    // With what the messages say granted, none of them is left (whatever else preflight still finds).
    await query(servers().main, `ALTER ROLE ${q} REPLICATION BYPASSRLS`);
    await query(servers().main, `GRANT SET ON PARAMETER log_statement, log_min_duration_statement, log_min_error_statement TO ${q}`);
    const again = await fx.cli('apply', '--yes');
    expect(again.stdout + again.stderr).not.toContain('LOGIN REPLICATION');
    expect(again.stdout + again.stderr).not.toContain('log_statement is');
    expect(again.stdout + again.stderr).not.toContain('log_min_error_statement is');
  });
});

describe('a role that may read the split but not write the journal', () => {
  it('verify says which privilege is missing and how to grant it, exit 2, not a bare server error', async () => {
    const fx = await fixture({ scale: 0.05 });
    const reader = `${fx.prefix}reader`;
    roles.push(reader);
    await query(servers().main, `CREATE ROLE "${reader}" LOGIN PASSWORD 'reader-pw'`);
    await query(fx.sourceUrl, `GRANT SELECT ON ALL TABLES IN SCHEMA public TO "${reader}"`);
    const applied = await fx.cli('apply', '--yes');
    expect(applied.code, applied.stderr).toBe(0);
    connectAs(fx, reader, 'reader-pw');
    let r = await fx.cli('verify');
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/cannot open the journal in .*: permission denied for schema cloudphone_split/);
    expect(r.stderr).toContain(`fix: the journal's tables are written by every command but plan and status: as their owner (the role that applied the split), GRANT USAGE ON SCHEMA cloudphone_split TO <role>`);
    // Enough to open the journal, not to record the result: the server's refusal, with what to do.
    await query(fx.controlUrl, `GRANT USAGE ON SCHEMA cloudphone_split TO "${reader}"; GRANT SELECT ON ALL TABLES IN SCHEMA cloudphone_split TO "${reader}"; GRANT UPDATE ON cloudphone_split.migrations_lock TO "${reader}"`);
    r = await fx.cli('verify');
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/error: permission denied for table \w+/);
    expect(r.stderr).toContain(`fix: the role in the manifest's URL lacks a privilege this command needs (README, "What each command needs from the database role", lists them)`);
    // With the journal and the new databases readable, the fence (proved by a write) cannot be checked: said as such, not as a missing fence.
    await query(fx.controlUrl, `GRANT INSERT, UPDATE ON ALL TABLES IN SCHEMA cloudphone_split TO "${reader}"; GRANT USAGE ON ALL SEQUENCES IN SCHEMA cloudphone_split TO "${reader}"`);
    for (const s of [{ database: fx.sourceDb, url: null }, ...fx.services]) {
      await query(servers().main, `GRANT CONNECT ON DATABASE "${s.database}" TO "${reader}"`);
      if (s.url === null) continue;
      await query(s.url, `GRANT SELECT ON ALL TABLES IN SCHEMA public TO "${reader}"`);
    }
    r = await fx.cli('verify');
    expect(r.code, r.stdout + r.stderr).not.toBe(0);
    expect(r.stdout).toMatch(/\? fence +public\.\S+ +cannot check the fence: the role verify runs as may not write to public\.\S+ \(permission denied for table \S+ \(SQLSTATE 42501\)\); run verify as the table's owner or a superuser/);
    expect(r.stdout).not.toContain("not with the fence's 25006");
    // Nor is a sequence the role may not read a difference, with the advice to roll back.
    expect(r.stdout).toMatch(/\? sequence +public\.\S+ +cannot read the sequence: permission denied/);
    expect(r.stdout).not.toContain('rollback` and `apply` again');
    expect(r.code).toBe(3);
  });
});

describe('a service without a role', () => {
  async function withoutRole(fx: SplitFixture): Promise<string> {
    const app = `${fx.prefix}legacy_app`;
    roles.push(app);
    await query(servers().main, `CREATE ROLE "${app}" LOGIN PASSWORD 'app-pw'`);
    await query(fx.sourceUrl, `GRANT SELECT, INSERT, UPDATE, DELETE ON users TO "${app}"`);
    const doc = parse(await readFile(fx.manifestFile, 'utf8')) as { services: Record<string, Record<string, unknown>> };
    delete doc.services['user-service']!.role;
    await writeFile(fx.manifestFile, stringify(doc, { lineWidth: 0 }));
    return app;
  }

  it('keeps the roles that used its tables in the source able to connect to its new database, as the plan says', async () => {
    const fx = await fixture();
    const app = await withoutRole(fx);
    const user = fx.service('user');
    // A role that logs in without inheriting and reaches the table through SET ROLE (PostgREST's authenticator and anon).
    const [reader, web] = [`${fx.prefix}anon`, `${fx.prefix}authenticator`];
    roles.push(web, reader);
    await query(servers().main, `CREATE ROLE "${reader}" NOLOGIN; CREATE ROLE "${web}" LOGIN NOINHERIT PASSWORD 'web-pw' IN ROLE "${reader}"`);
    await query(fx.sourceUrl, `GRANT SELECT ON users TO "${reader}"`);
    const planned = await fx.cli('plan');
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.stdout).toContain(`revoke CONNECT on ${user.database} from PUBLIC; give CONNECT and TEMPORARY to ${[app, web, reader].sort().join(', ')} (they use its tables in the source)`);
    const applied = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    const [can] = await query<{ connect: boolean; other: boolean }>(
      servers().main,
      `SELECT has_database_privilege($1, $2, 'CONNECT') AS connect, has_database_privilege($1, $3, 'CONNECT') AS other`,
      [app, user.database, fx.service('device').database],
    );
    expect(can).toEqual({ connect: true, other: false });
    // The login role connects and reads as it did in the source.
    const asWeb = new URL(user.url);
    asWeb.username = web;
    asWeb.password = 'web-pw';
    expect(await query<{ u: string; n: boolean }>(asWeb.toString(), `SELECT current_user::text AS u, has_table_privilege($1, 'users', 'SELECT') AS n`, [reader])).toEqual([{ u: web, n: true }]);
  });

  it('gives each object to the role that owns it in the source, the database too: that role reads, writes, calls nextval and migrates there as before', async () => {
    const fx = await fixture();
    const app = `${fx.prefix}owner_app`;
    roles.push(app);
    await query(servers().main, `CREATE ROLE "${app}" LOGIN PASSWORD 'owner-pw'`);
    await giveSource(fx, app);
    // A function with an argument, owned by the role, that a moved table uses (its key holds the argument's name and type).
    await query(
      fx.sourceUrl,
      `CREATE FUNCTION public.owner_probe(x text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT upper(x)';
       ALTER FUNCTION public.owner_probe(text) OWNER TO "${app}";
       ALTER TABLE users ADD COLUMN probe text DEFAULT public.owner_probe('x');
       CREATE STATISTICS public.users_tenant_department ON tenant_id, department_id FROM users;
       ALTER STATISTICS public.users_tenant_department OWNER TO "${app}"`,
    );
    // A grant the source made to the role that runs the split (on a managed server, its admin role).
    const tool = decodeURIComponent(new URL(fx.sourceUrl).username);
    await query(fx.sourceUrl, `SET ROLE "${app}"; GRANT SELECT ON users TO "${tool}" WITH GRANT OPTION`);
    const acl = (url: string) => query<{ a: string }>(url, `SELECT relacl::text AS a FROM pg_class WHERE oid = 'public.users'::regclass`);
    const doc = parse(await readFile(fx.manifestFile, 'utf8')) as { services: Record<string, Record<string, unknown>> };
    delete doc.services['user-service']!.role;
    await writeFile(fx.manifestFile, stringify(doc, { lineWidth: 0 }));
    const user = fx.service('user');

    // A tool role that is not superuser must be a member of that owner: refused before any change, with the fix.
    const admin = await asAdmin(fx);
    const refused = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toContain(
      `server source: role ${admin} is not a member of ${app}, which owns objects of a service without a role in the source (they are given to it in the new database): run as a superuser (or a member of ${app} with ADMIN OPTION): GRANT "${app}" TO "${admin}"`,
    );
    expect(await databasesOf(fx)).toEqual([`${fx.prefix}cloudphone_core`, `${fx.prefix}control`]);
    fx.env.CLOUDPHONE_CORE_URL = fx.sourceUrl;
    fx.env.SPLIT_CONTROL_URL = fx.controlUrl;

    const planned = await fx.cli('plan');
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.stdout).toContain(`give each object to the role that owns it in the source (${app}, each if it exists on the server)`);
    const applied = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    const verified = await fx.cli('verify', '--checksums');
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    // Both ways: every relation of the new database has the owner its source has, and the database is the source database's owner's.
    const owners = (url: string, names: string[]) =>
      query<{ r: string; o: string }>(
        url,
        `SELECT c.relname AS r, pg_get_userbyid(c.relowner) AS o FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND c.relname = ANY($1) ORDER BY 1`,
        [names],
      );
    const moved = await query<{ r: string }>(user.url, `SELECT c.relname AS r FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')`);
    expect(moved.length).toBeGreaterThan(2);
    const names = moved.map((m) => m.r);
    expect(await owners(user.url, names)).toEqual(await owners(fx.sourceUrl, names));
    expect((await owners(user.url, names)).every((o) => o.o === app)).toBe(true);
    const [db] = await query<{ o: string }>(servers().main, `SELECT pg_get_userbyid(datdba) AS o FROM pg_database WHERE datname = $1`, [user.database]);
    expect(db!.o).toBe(app);
    // The application, as itself.
    const asApp = new URL(user.url);
    asApp.username = app;
    asApp.password = 'owner-pw';
    const [before] = await query<{ n: number }>(asApp.toString(), `SELECT count(*)::int AS n FROM users`);
    expect(before!.n).toBeGreaterThan(0);
    await query(asApp.toString(), `INSERT INTO users (tenant_id, username, email, password_hash) SELECT tenant_id, 'owner-app', 'owner-app@example.com', 'x' FROM users LIMIT 1`);
    await query(asApp.toString(), `CREATE TABLE public.migration_0042 (id bigserial PRIMARY KEY)`);
    // The users table's privileges as in the source, the grant to the role that ran the split included.
    expect((await acl(user.url))[0]!.a).toContain(`${tool}=r*/${app}`);
    expect(await acl(user.url)).toEqual(await acl(fx.sourceUrl));
    // The function too: the application replaces it in its next migration, as in the source.
    expect(await query(user.url, `SELECT pg_get_userbyid(proowner) AS o FROM pg_proc WHERE proname = 'owner_probe'`)).toEqual([{ o: app }]);
    await query(asApp.toString(), `CREATE OR REPLACE FUNCTION public.owner_probe(x text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT lower(x)'`);
    // And the extended statistics on its table: the application drops or alters them in a migration, as in the source.
    expect(await query(user.url, `SELECT stxname::text AS s, pg_get_userbyid(stxowner) AS o FROM pg_statistic_ext`)).toEqual([{ s: 'users_tenant_department', o: app }]);
    await query(asApp.toString(), `ALTER STATISTICS public.users_tenant_department SET STATISTICS 500`);
    // The other services keep their roles' ownership.
    const [device] = await query<{ o: string }>(servers().main, `SELECT pg_get_userbyid(datdba) AS o FROM pg_database WHERE datname = $1`, [fx.service('device').database]);
    expect(device!.o).toBe(fx.service('device').role);
  });

  it('is refused before any change when such a role does not exist on the target server, with the fix', async () => {
    const fx = await fixture({ targets: second() });
    const app = await withoutRole(fx);
    const r = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(`server target: role ${app} uses the tables of user-service in the source, but does not exist there to connect to ${fx.service('user').database}: create it on that server (CREATE ROLE "${app}" LOGIN PASSWORD …), or give services.user-service a role: in the manifest`);
    const made = await query<{ datname: string }>(second(), `SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${fx.prefix}%`]);
    expect(made).toEqual([]);
  });
});
