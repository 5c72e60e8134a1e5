import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import pg from 'pg';
import { query, servers, second, withDatabase } from '../harness/servers.js';
import { splitFixture, sampleTemplate, dropTemplate, type SplitFixture } from './helpers/split-fixture.js';
import { leafTables, tableSums } from './helpers/table-sums.js';

const fixtures: SplitFixture[] = [];
let template = '';
beforeAll(async () => {
  // A third of the sample: what is proved here does not depend on the amount of data.
  template = await sampleTemplate(servers().main, 0.3);
});
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
  await dropTemplate(servers().main, template);
});

/** What a split may touch on the source's server, as catalog rows (ACLs compared by meaning: NULL = the default). */
async function sourceCatalog(fx: SplitFixture): Promise<Record<string, unknown>> {
  const control = `${fx.prefix}control`;
  const databases = await query(
    fx.sourceServer,
    `SELECT d.datname, d.datdba::regrole::text AS owner,
            array(SELECT format('%s:%s:%s', a.grantee, a.privilege_type, a.is_grantable)
                    FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a ORDER BY 1) AS acl,
            shobj_description(d.oid, 'pg_database') AS comment,
            (SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0) AS settings
       FROM pg_database d WHERE left(d.datname, length($1)) = $1 AND d.datname <> $2 ORDER BY 1`,
    [fx.prefix, control],
  );
  const roles = await query(fx.sourceServer, `SELECT rolname FROM pg_roles WHERE left(rolname, length($1)) = $1 ORDER BY 1`, [fx.prefix]);
  const triggers = await query(
    fx.sourceUrl,
    `SELECT tgrelid::regclass::text AS rel, tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2`,
  );
  const schemas = await query(fx.sourceUrl, `SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' ORDER BY 1`);
  const functions = await query(
    fx.sourceUrl,
    `SELECT p.oid::regprocedure::text AS f FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
  );
  const relations = await query(
    fx.sourceUrl,
    `SELECT c.oid::regclass::text AS rel, c.relkind, c.relacl::text AS acl FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1`,
  );
  const data = await tableSums(fx.sourceUrl, await leafTables(fx.sourceUrl));
  return { databases, roles, triggers, schemas, functions, relations, data };
}

async function filesUnder(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    if (!/^(services|deploy)\//.test(relative(dir, path))) continue;
    out.set(relative(dir, path), await readFile(path));
  }
  return out;
}

async function databasesOf(fx: SplitFixture): Promise<string[]> {
  const rows = await query<{ datname: string }>(fx.sourceServer, `SELECT datname FROM pg_database WHERE left(datname, length($1)) = $1 ORDER BY 1`, [fx.prefix]);
  return rows.map((r) => r.datname);
}

describe('rollback', () => {
  it('before repoint_config: drops what the split created and leaves the source server exactly as before apply', async () => {
    const fx = await splitFixture({ template, billing: second() });
    fixtures.push(fx);
    const billing = fx.service('billing');
    const onSecond = async () => ({
      databases: await query(second(), `SELECT datname FROM pg_database WHERE datname = $1`, [billing.database]),
      roles: await query(second(), `SELECT rolname FROM pg_roles WHERE rolname = $1`, [billing.role]),
    });
    const before = await sourceCatalog(fx);
    expect(await onSecond()).toEqual({ databases: [], roles: [] });

    const applied = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr).toBe(0);
    const during = await sourceCatalog(fx);
    expect(during.databases).not.toEqual(before.databases);
    expect(during.triggers).not.toEqual(before.triggers);
    expect((await databasesOf(fx)).length).toBe(fx.services.length + 1);
    expect(await onSecond()).toEqual({ databases: [{ datname: billing.database }], roles: [{ rolname: billing.role }] });

    const refused = await fx.cli('rollback');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');
    expect(await sourceCatalog(fx)).toEqual(during);

    let tables = 0;
    for (const s of fx.services) {
      const sql = `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'cloudphone_split')`;
      tables += (await query<{ n: number }>(withDatabase(s.serverUrl, s.database), sql))[0]!.n;
    }
    const r = await fx.cli('rollback', '--yes', '--json');
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      state: string;
      dropped: { databases: Array<{ name: string; outcome: string }>; roles: Array<{ name: string }> };
      restored: { configFiles: string[]; readOnlyLifted: boolean; fenceRemovedFrom: number; stillFenced: string[] };
      preview: { checkedTables: number };
    };
    expect(report.state).toBe('rolled-back');
    // Each table of each new database compared with what the copy wrote, counted once (the object check is not a table).
    expect(report.preview.checkedTables).toBe(tables);
    expect(report.dropped.databases.map((d) => d.name).sort()).toEqual(fx.services.map((s) => s.database).sort());
    expect(report.dropped.roles.map((d) => d.name).sort()).toEqual(fx.services.map((s) => s.role).sort());
    expect(report.dropped.databases).toContainEqual({ server: 'billing-pg', name: billing.database, outcome: 'dropped' });
    expect(report.restored.configFiles).toEqual([]);
    expect(report.restored.readOnlyLifted).toBe(true);
    expect(report.restored.fenceRemovedFrom).toBeGreaterThan(10);
    expect(report.restored.stillFenced).toEqual([]);

    expect(await sourceCatalog(fx)).toEqual(before);
    expect(await onSecond()).toEqual({ databases: [], roles: [] });
    // Writable again, without asking for a read-write transaction.
    await query(fx.sourceUrl, `UPDATE users SET username = username WHERE id = (SELECT min(id) FROM users)`);

    const again = await fx.cli('rollback', '--yes');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('nothing left to roll back');
    // verify says there is no split any more, not that it was never applied.
    const gone = await fx.cli('verify');
    expect(gone.code, gone.stderr).toBe(2);
    expect(gone.stderr).toMatch(/was rolled back \(\d{4}-\d\d-\d\dT[\d:.]+Z\): there is no split to verify/);
    expect(gone.stderr).not.toContain('has not been applied');

    // The journal is marked rolled back: the next apply starts from scratch and runs every step.
    const reapplied = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(reapplied.code, reapplied.stderr).toBe(0);
    expect(reapplied.stdout).toMatch(/steps run, 0 already done/);
    expect((await databasesOf(fx)).length).toBe(fx.services.length + 1);
    expect((await onSecond()).databases).toHaveLength(1);
  });

  it('after repoint_config: refuses while a target table changed, then restores every config file byte for byte', async () => {
    const fx = await splitFixture({ template, withConfig: true });
    fixtures.push(fx);
    const files = await filesUnder(fx.dir);
    expect(files.size).toBeGreaterThanOrEqual(12);

    const applied = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr).toBe(0);
    const repointed = await filesUnder(fx.dir);
    expect([...repointed.keys()].filter((f) => !repointed.get(f)!.equals(files.get(f)!)).length).toBeGreaterThanOrEqual(12);

    const device = fx.service('device');
    const c = new pg.Client({ connectionString: device.url });
    await c.connect();
    try {
      // The service's triggers stay out of the way (they would stamp updated_at).
      await c.query(`SET session_replication_role = replica`);
      // One row fewer: the count differs.
      await c.query(`CREATE TEMP TABLE keep AS SELECT * FROM device_events WHERE id = (SELECT max(id) FROM device_events)`);
      await c.query(`DELETE FROM device_events WHERE id = (SELECT id FROM keep)`);
      let r = await fx.cli('rollback', '--yes');
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(`${device.database}: public.device_events`);
      expect(r.stderr).toContain('nothing was changed');
      expect(await filesUnder(fx.dir)).toEqual(repointed);
      expect(await databasesOf(fx)).toContain(device.database);

      // Same count again, but one row differs: the checksum catches it.
      await c.query(`INSERT INTO device_events SELECT * FROM keep`);
      await c.query(`UPDATE devices SET name = name || ' (moved)' WHERE id = (SELECT min(id) FROM devices)`);
      r = await fx.cli('rollback', '--yes', '--json');
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${device.database}: public.devices: same row count, but rows were changed`);
      expect(r.stderr).not.toContain('device_events');
      expect(JSON.parse(r.stdout)).toMatchObject({ error: { exitCode: 1 } });

      await c.query(`UPDATE devices SET name = left(name, length(name) - length(' (moved)')) WHERE id = (SELECT min(id) FROM devices)`);
    } finally {
      await c.end();
    }

    const r = await fx.cli('rollback', '--yes');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('restored config');
    const restored = await filesUnder(fx.dir);
    expect([...restored.keys()].sort()).toEqual([...files.keys()].sort());
    for (const [file, bytes] of files) expect(restored.get(file)!.equals(bytes), file).toBe(true);
    expect(await databasesOf(fx)).toEqual([`${fx.prefix}cloudphone_core`, `${fx.prefix}control`]);
    const roles = await query(fx.sourceServer, `SELECT rolname FROM pg_roles WHERE left(rolname, length($1)) = $1`, [fx.prefix]);
    expect(roles).toEqual([]);
    const status = await fx.cli('status', '--json');
    const runs = (JSON.parse(status.stdout) as { runs: Array<{ state: string }> }).runs;
    expect(runs.map((x) => x.state)).toEqual(['rolled_back']);
  });
});
