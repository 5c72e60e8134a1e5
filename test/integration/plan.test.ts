import { describe, expect, it, beforeAll } from 'vitest';
import { mkdtemp, readFile, writeFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli as cli } from './helpers/cli.js';
import { loadSample } from '../../src/demo/sample-database.js';
import { sampleManifest, SAMPLE_ENV_VARS } from '../../src/demo/sample-manifest.js';
import { writeServicesTree } from '../../src/demo/sample-services.js';
import { readPlanFile, serializePlan } from '../../src/plan/plan-file.js';
import { STEP_KINDS, type Plan } from '../../src/plan/model.js';
import { createDatabase, query, servers, uniquePrefix } from '../harness/servers.js';


const PASSWORD = 'Pw-9f3c1e7a-unique';

describe('plan on the sample database', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let manifest: string;
  let plan: Plan;
  let planOut: { code: number; stdout: string; stderr: string };

  beforeAll(async () => {
    const prefix = uniquePrefix();
    const source = await createDatabase(servers().main, `${prefix}core`);
    await loadSample(source);
    // Statistics settle now: an insert-triggered autovacuum between two plans would move the estimates they print.
    await query(source, 'VACUUM (ANALYZE)');
    dir = await mkdtemp(join(tmpdir(), 'cps-plan-'));
    await writeServicesTree(dir, { sourceUrl: source });
    manifest = join(dir, 'split.yaml');
    await writeFile(manifest, sampleManifest({ prefix, withConfig: true }));
    env = { ...process.env, CLOUDPHONE_CORE_URL: source, SPLIT_CONTROL_URL: `${source}_control` };
    for (const v of SAMPLE_ENV_VARS) if (v.endsWith('_PASSWORD')) env[v] = PASSWORD;
    planOut = await cli(['plan', '-m', manifest, '-o', join(dir, 'plan.json'), '--sql', '--no-color'], env);
    plan = await readPlanFile(join(dir, 'plan.json'));
  });

  it('lists every table under its service, every cross-service foreign key as dropped, steps in SPEC order', () => {
    expect(planOut.code, planOut.stderr).toBe(0);
    const owned = plan.services.flatMap((s) => s.tables.map((t) => t.name));
    for (const t of ['public.users', 'public.devices', 'public.orders', 'public.device_events', 'public.Billing "Audit" Log']) {
      expect(owned).toContain(t);
      expect(planOut.stdout).toContain(t);
    }
    expect(new Set(owned).size).toBe(owned.length);
    const dropped = plan.services.flatMap((s) => s.droppedForeignKeys.map((f) => `${f.table}.${f.constraint}`));
    expect(dropped).toEqual(expect.arrayContaining(['public.devices.devices_user_id_fkey', 'public.orders.orders_user_id_fkey', 'public.orders.orders_device_id_fkey']));
    for (const d of dropped) expect(planOut.stdout).toContain(d.split('.').pop()!);
    const order = plan.steps.map((s) => STEP_KINDS.indexOf(s.kind));
    const offline = ['preflight', 'create_role', 'create_database', 'create_schema', 'fence_source', 'copy_data', 'create_indexes', 'sync_sequences', 'grant', 'verify_rowcounts', 'repoint_config', 'schedule_retention'];
    const kinds = plan.steps.map((s) => s.kind).filter((k, i, a) => a.indexOf(k) === i);
    expect(kinds).toEqual(offline);
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it('round-trips the plan file byte for byte', async () => {
    const text = await readFile(join(dir, 'plan.json'), 'utf8');
    expect(serializePlan(plan)).toBe(text);
  });

  it('plans the same from a snapshot as from the live source', async () => {
    const snap = await cli(['snapshot', '-m', manifest, '-o', join(dir, 'schema.json')], env);
    expect(snap.code, snap.stderr).toBe(0);
    const noDbEnv: NodeJS.ProcessEnv = { ...env, CLOUDPHONE_CORE_URL: 'postgres://nobody@127.0.0.1:1/none' };
    const r = await cli(['plan', '-m', manifest, '--schema', join(dir, 'schema.json'), '-o', join(dir, 'plan-from-schema.json')], noDbEnv);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(dir, 'plan-from-schema.json'), 'utf8')).toBe(await readFile(join(dir, 'plan.json'), 'utf8'));
  });

  it('never writes a password into output or plan files', async () => {
    const json = await cli(['plan', '-m', manifest, '--json', '-o', join(dir, 'plan2.json')], env);
    expect(json.code).toBe(0);
    const dry = await cli(['apply', join(dir, 'plan.json'), '--dry-run'], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('COPY');
    const texts = [planOut.stdout, planOut.stderr, json.stdout, json.stderr, dry.stdout, dry.stderr];
    for (const f of await readdir(dir)) if (f.endsWith('.json')) texts.push(await readFile(join(dir, f), 'utf8'));
    for (const t of texts) {
      expect(t).not.toContain(PASSWORD);
      expect(t).not.toContain(':postgres@');
    }
    expect(JSON.parse(json.stdout).steps.length).toBe(plan.steps.length);
  });

  it('reports a manifest problem with exit 2 naming the key path', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, (await readFile(manifest, 'utf8')).replace('mode: offline', 'mode: sideways'));
    const r = await cli(['plan', '-m', bad], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/mode/);
  });

  it('reports every problem of a manifest in one run: an unknown key, a literal password and a table name that matches nothing (SPEC §1)', async () => {
    const bad = join(dir, 'bad-all.yaml');
    const text = (await readFile(manifest, 'utf8'))
      .replace('retention:\n  days: 7', 'retension:\n  days: 7')
      .replace('password: ${AUTH_DB_PASSWORD}', 'password: hunter2-literal')
      .replace('      - api_keys\n', '      - api_key\n');
    expect(text).toContain('retension:');
    expect(text).toContain('- api_key\n');
    await writeFile(bad, text);
    const r = await cli(['plan', '-m', bad], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/3 problems in the manifest/);
    expect(r.stderr).toMatch(/retension: unknown key/);
    expect(r.stderr).toMatch(/api-gateway\.role\.password/);
    expect(r.stderr).toMatch(/no table named "?api_key"?.*\n.*did you mean api_keys\?/);
    expect(r.stderr).not.toContain('hunter2-literal');
  });
});

describe('the committed example plan', () => {
  it('matches what `plan --schema` produces from the committed snapshot', async () => {
    const root = join(import.meta.dirname, '../..');
    const out = join(await mkdtemp(join(tmpdir(), 'cps-example-')), 'plan.json');
    expect(existsSync(join(root, 'plans/cloudphone.schema.json')), 'plans/cloudphone.schema.json is committed').toBe(true);
    const r = await cli(['plan', '-m', join(root, 'plans/split.yaml'), '--schema', join(root, 'plans/cloudphone.schema.json'), '-o', out], {
      ...process.env,
      CLOUDPHONE_CORE_URL: 'postgres://nobody@127.0.0.1:1/cloudphone_core',
    });
    expect(r.code, r.stderr).toBe(0);
    const fresh = (await readFile(out, 'utf8')).replace(/"path": "[^"]*"/, '"path": "split.yaml"');
    if (process.env.UPDATE_EXAMPLES === '1') await writeFile(join(root, 'plans/cloudphone.plan.json'), fresh);
    expect(fresh, 'the committed plan is stale: rerun with UPDATE_EXAMPLES=1 and review the diff').toBe(
      await readFile(join(root, 'plans/cloudphone.plan.json'), 'utf8'),
    );
  });
});
