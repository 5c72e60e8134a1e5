import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { query, servers, withDatabase } from '../harness/servers.js';
import { splitFixture, sampleTemplate, dropTemplate, type SplitFixture } from './helpers/split-fixture.js';

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

const q = (name: string): string => `"${name.replaceAll('"', '""')}"`;

async function databasesOf(fx: SplitFixture): Promise<string[]> {
  const rows = await query<{ datname: string }>(fx.sourceServer, `SELECT datname FROM pg_database WHERE left(datname, length($1)) = $1 ORDER BY 1`, [fx.prefix]);
  return rows.map((r) => r.datname);
}

async function filesUnder(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isFile() && /^(services|deploy)\//.test(relative(dir, path))) out.set(relative(dir, path), await readFile(path));
  }
  return out;
}

async function fenceTriggers(fx: SplitFixture): Promise<number> {
  const [r] = await query<{ n: number }>(fx.sourceUrl, `SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = 'cloudphone_split_fence'`);
  return r!.n;
}

describe('rollback of a split that did not finish, or that adopted a database', () => {
  it('after a failed apply: drops only what the split created, restores the files it repointed, leaves other databases alone', async () => {
    const fx = await splitFixture({
      template,
      withConfig: true,
      edit: (doc) => {
        const services = doc.services as Record<string, Record<string, unknown>>;
        services['user-service']!.restart = 'echo "restarting user-service" && exit 7';
      },
    });
    fixtures.push(fx);
    const files = await filesUnder(fx.dir);

    // Refused at preflight: nothing was created, nothing is rolled back, the database stays.
    const foreign = fx.service('notification').database;
    await query(fx.sourceServer, `CREATE DATABASE ${q(foreign)}`);
    await query(withDatabase(fx.sourceServer, foreign), `CREATE TABLE keep_me (id int); INSERT INTO keep_me VALUES (1), (2)`);
    let applied = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(applied.code).toBe(3);
    expect(applied.stderr).toContain(`database ${foreign} already exists`);
    let r = await fx.cli('rollback', '--yes');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('nothing left to roll back');
    expect(await query(withDatabase(fx.sourceServer, foreign), `SELECT id FROM keep_me ORDER BY id`)).toEqual([{ id: 1 }, { id: 2 }]);
    await query(fx.sourceServer, `DROP DATABASE ${q(foreign)}`);

    // Stopped by a failing restart command: the data is copied and some files are repointed.
    applied = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(applied.code).toBe(3);
    expect(applied.stderr).toContain('exited with 7');
    expect(await fenceTriggers(fx)).toBeGreaterThan(0);
    const user = await filesUnder(fx.dir);
    expect(user.get('services/user-service/.env')!.equals(files.get('services/user-service/.env')!)).toBe(false);

    r = await fx.cli('rollback', '--yes', '--json');
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { dropped: { databases: Array<{ name: string }> }; restored: { configFiles: string[]; readOnlyLifted: boolean } };
    expect(report.dropped.databases.map((d) => d.name).sort()).toEqual(fx.services.map((s) => s.database).sort());
    expect(report.restored.configFiles).toContain('services/user-service/.env');
    expect(report.restored.readOnlyLifted).toBe(false);
    const restored = await filesUnder(fx.dir);
    for (const [file, bytes] of files) expect(restored.get(file)!.equals(bytes), file).toBe(true);
    expect(await databasesOf(fx)).toEqual([`${fx.prefix}cloudphone_core`, `${fx.prefix}control`]);
    expect(await fenceTriggers(fx)).toBe(0);
    const roles = await query(fx.sourceServer, `SELECT rolname FROM pg_roles WHERE left(rolname, length($1)) = $1`, [fx.prefix]);
    expect(roles).toEqual([]);
  });

  it('keeps a database the split adopted, emptied of what the split put there, and drops the role that owned it', async () => {
    const fx = await splitFixture({ template });
    fixtures.push(fx);
    const app = fx.service('app');
    await query(fx.sourceServer, `CREATE DATABASE ${q(app.database)}`);

    const applied = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr).toBe(0);
    const [owned] = await query<{ owner: string }>(fx.sourceServer, `SELECT datdba::regrole::text AS owner FROM pg_database WHERE datname = $1`, [app.database]);
    expect(owned!.owner).toBe(app.role);
    expect(await fenceTriggers(fx)).toBeGreaterThan(0);

    const r = await fx.cli('rollback', '--yes');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`kept database ${app.database}: it existed (empty) before the split`);
    expect(await databasesOf(fx)).toEqual([app.database, `${fx.prefix}cloudphone_core`, `${fx.prefix}control`].sort());
    const tables = await query(app.url, `SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')`);
    expect(tables).toEqual([]);
    const [after] = await query<{ owner: string }>(fx.sourceServer, `SELECT datdba::regrole::text AS owner FROM pg_database WHERE datname = $1`, [app.database]);
    expect(after!.owner).not.toBe(app.role);
    expect(await query(fx.sourceServer, `SELECT 1 FROM pg_roles WHERE rolname = $1`, [app.role])).toEqual([]);
    expect(await fenceTriggers(fx)).toBe(0);
  });
});
