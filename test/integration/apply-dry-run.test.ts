import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { catalogSignature } from './helpers/catalog-signature.js';
import { REPO_ROOT } from './helpers/cli.js';
import { ESTIMATE_PREFIX } from '../../src/cli/views/dry-run.js';
import pg from 'pg';

const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

/** A dry run's output less the lines of estimates (they follow the statistics, not the plan's SQL). */
function withoutEstimates(out: string): string {
  return out
    .split('\n')
    .filter((l) => !l.startsWith(ESTIMATE_PREFIX))
    .join('\n');
}

/** ANALYZE of the whole database, again and again on its own connection, until stopped. */
function analyzeLoop(url: string): { ran(n: number): Promise<void>; count(): number; stop(): Promise<void> } {
  const client = new pg.Client({ connectionString: url });
  let runs = 0;
  let stopped = false;
  const waiters: Array<{ n: number; resolve: () => void; reject: (err: unknown) => void }> = [];
  const loop = (async () => {
    await client.connect();
    try {
      while (!stopped) {
        await client.query('ANALYZE');
        runs++;
        for (const w of waiters.filter((x) => runs >= x.n)) w.resolve();
      }
    } finally {
      await client.end();
    }
  })();
  loop.catch((err: unknown) => waiters.forEach((w) => w.reject(err)));
  return {
    ran: (n) => (runs >= n ? Promise.resolve() : new Promise<void>((resolve, reject) => waiters.push({ n, resolve, reject }))),
    count: () => runs,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

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
  // Settled statistics and visibility maps: autovacuum finds nothing to do, so only the
  // ANALYZE loop below moves the estimates (a VACUUM would also change the sizes).
  await query(fx.sourceUrl, 'VACUUM (ANALYZE)');
  // The plan file is made from statistics that are off: as if a run of autovacuum came between the two plans.
  const [moved] = await query<{ oid: string; key: string; n: number }>(
    fx.sourceUrl,
    `SELECT c.oid::text AS oid, s.nspname || '.' || c.relname AS key, c.reltuples::int AS n FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
      WHERE s.nspname = 'public' AND c.relkind = 'r' AND NOT c.relispartition
        -- ANALYZE reads every row of a table this small: its estimate is the exact count every time.
        AND c.reltuples BETWEEN 1 AND 10000 ORDER BY c.relname LIMIT 1`,
  );
  await query(fx.sourceUrl, `UPDATE pg_class SET reltuples = $1 WHERE oid = $2::oid`, [moved!.n + 424_242, moved!.oid]);
  const plan = await fx.plan();
  const movedKey = moved!.key;
  const movedStep = plan.steps.find((st) => st.kind === 'copy_data' && st.table === movedKey)!;
  expect(movedStep, movedKey).toBeDefined();
  const before = await world(fx);

  // Another session runs ANALYZE over and over while the two dry runs plan and print.
  const analyze = analyzeLoop(fx.sourceUrl);
  try {
    await analyze.ran(1);
    for (let round = 0; round < 3; round++) {
      const withPlan = await fx.cli('apply', fx.planFile, '--dry-run');
      expect(withPlan.code, withPlan.stderr).toBe(0);
      const fromManifest = await fx.cli('apply', '--dry-run');
      expect(fromManifest.code, fromManifest.stderr).toBe(0);
      // The same plan prints the same statements; only the estimates may move.
      expect(withoutEstimates(fromManifest.stdout)).toBe(withoutEstimates(withPlan.stdout));
      expect(withoutEstimates(withPlan.stdout)).not.toContain('estimate');
      const estimate = (out: string) => out.split('\n').find((_, i, all) => all[i - 1]?.startsWith(`-- [${movedStep.id}] `));
      expect(estimate(withPlan.stdout)).toContain(`~${moved!.n + 424_242} rows`);
      expect(estimate(fromManifest.stdout)).toContain(`~${moved!.n} rows`);
    }
  } finally {
    await analyze.stop();
  }
  expect(analyze.count(), 'ANALYZE ran during the comparison').toBeGreaterThan(1);
  const withPlan = await fx.cli('apply', fx.planFile, '--dry-run');

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

it('apply --dry-run names the server each role is made on, leaves out what an earlier run did, and says when nothing is left', async () => {
  const fx = await splitFixture({ scale: 0.05, billing: servers().main });
  fixtures.push(fx);
  await fx.plan();
  const billing = fx.service('billing');
  const device = fx.service('device');
  let dry = await fx.cli('apply', '--dry-run');
  expect(dry.code, dry.stderr).toBe(0);
  // billing-service's role is made on its own server (billing-pg), the others' on the source's.
  expect(dry.stdout).toMatch(new RegExp(`^-- \\[create_role:[^\\]]*\\] create login role ${billing.role} for billing-service \\(server billing-pg\\)$`, 'm'));
  expect(dry.stdout).toMatch(new RegExp(`^-- \\[create_role:[^\\]]*\\] create login role ${device.role} for device-service \\(the source's server\\)$`, 'm'));
  expect(dry.stdout).toContain(`CREATE DATABASE "${billing.database}"`);

  // billing-service applied alone: a dry run of the rest leaves out its steps, done already, and says so.
  const part = await fx.cli('apply', '--service', 'billing-service', '--yes');
  expect(part.code, part.stderr).toBe(0);
  dry = await fx.cli('apply', '--dry-run');
  expect(dry.code, dry.stderr).toBe(0);
  expect(dry.stdout).toMatch(/^-- cloudphone-split apply --dry-run: split \S+, \d+ steps, \d+ of them done by an earlier run \(left out: apply resumes after them\); nothing is changed$/m);
  expect(dry.stdout).not.toContain(`CREATE DATABASE "${billing.database}"`);
  expect(dry.stdout).toContain(`CREATE DATABASE "${device.database}"`);

  // Applied whole: nothing is left, as apply itself says; no statement is printed.
  const rest = await fx.cli('apply', '--yes');
  expect(rest.code, rest.stderr).toBe(0);
  const before = await world(fx);
  for (const args of [['--dry-run'], [fx.planFile, '--dry-run']]) {
    dry = await fx.cli('apply', ...args);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('nothing left to do, every step of its plan is done');
    expect(dry.stdout).not.toContain('CREATE DATABASE');
  }
  expect(await world(fx)).toEqual(before);
});
