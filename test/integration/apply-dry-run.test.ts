import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { catalogSignature } from './helpers/catalog-signature.js';
import { REPO_ROOT } from './helpers/cli.js';

const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

/** Every file under the fixture's folder (manifest, plan, services tree) with its bytes. */
async function files(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const f = join(d, e.name);
      if (e.isDirectory()) await walk(f);
      else out[relative(dir, f)] = (await readFile(f)).toString('base64');
    }
  };
  await walk(dir);
  return out;
}

/** Everything apply could change: databases and roles of the split, the source's catalog and settings, the files. */
async function world(fx: SplitFixture): Promise<unknown> {
  const like = [`${fx.prefix}%`];
  return {
    databases: await query(servers().main, `SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY 1`, like),
    roles: await query(servers().main, `SELECT rolname FROM pg_roles WHERE rolname LIKE $1 ORDER BY 1`, like),
    source: await catalogSignature(fx.sourceServer, fx.sourceDb, fx.prefix),
    settings: await query(
      servers().main,
      `SELECT d.datname, s.setconfig, shobj_description(d.oid, 'pg_database') AS comment, d.datacl::text AS acl
         FROM pg_database d LEFT JOIN pg_db_role_setting s ON s.setdatabase = d.oid WHERE d.datname = $1`,
      [fx.sourceDb],
    ),
    triggers: await query(fx.sourceUrl, `SELECT tgrelid::regclass::text AS t, tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2`),
    files: await files(fx.dir),
  };
}

it('apply --dry-run prints every statement and config diff and changes nothing anywhere', async () => {
  const fx = await splitFixture({ source: servers().main, withConfig: true });
  fixtures.push(fx);
  const plan = await fx.plan();
  const before = await world(fx);

  const withPlan = await fx.cli('apply', fx.planFile, '--dry-run');
  expect(withPlan.code, withPlan.stderr).toBe(0);
  const fromManifest = await fx.cli('apply', '--dry-run');
  expect(fromManifest.code, fromManifest.stderr).toBe(0);
  expect(fromManifest.stdout).toBe(withPlan.stdout);

  const out = withPlan.stdout;
  for (const step of plan.steps) {
    expect(out).toContain(`-- [${step.id}]`);
    for (const statement of step.sql) expect(out, step.id).toContain(statement);
    if (step.kind === 'copy_data') expect(out).toContain(step.copyOut);
  }
  for (const s of fx.services) {
    expect(out).toContain(`CREATE DATABASE "${s.database}"`);
    expect(out).toMatch(new RegExp(`^-- \\+(export )?DB_DATABASE=${s.database}$`, 'm'));
    expect(out).toMatch(new RegExp(`^-- \\+ {2}name: ${s.database} # the database name$`, 'm'));
    // Passwords are shown as the variable that holds them, never as their value.
    expect(out).toContain(`\${${s.passwordVar}}`);
    expect(out).not.toContain(s.password);
  }
  expect(out).toMatch(/^-- -(export )?DB_DATABASE=cloudphone_core$/m);
  expect(out).toContain(`ALTER DATABASE "${fx.sourceDb}" SET default_transaction_read_only = on`);

  expect(await world(fx)).toEqual(before);
  const [control] = await query<{ n: number }>(servers().main, `SELECT count(*)::int AS n FROM pg_database WHERE datname = $1`, [`${fx.prefix}control`]);
  expect(control!.n, 'not even the journal database is created').toBe(0);
  expect(existsSync(join(REPO_ROOT, 'plans', `${fx.name}.plan.json`)), 'no plan file written').toBe(false);
});
