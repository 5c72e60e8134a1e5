import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { servers, withDatabase, query } from '../harness/servers.js';
import { sampleTemplate, dropTemplate } from './helpers/split-fixture.js';
import { sampleWavesFixture, type SampleWavesFixture } from './helpers/sample-waves-fixture.js';
import type { Plan } from '../../src/plan/model.js';
import type { MovedTable } from '../../src/waves/moved-table.js';
import { runCli } from './helpers/cli.js';

/** The billing-service tables of the sample, as plan keys. */
const BILLING = ['plans', 'coupons', 'orders', 'order_items', 'payments', 'invoices', 'balance_transactions', 'usage_records', 'Billing "Audit" Log'].map((t) => `public.${t}`).sort();

let template = '';
let fx: SampleWavesFixture;
/** A rival split planned before wave 1 ran: it moves coupons too. */
let rivalPlan = '';
let wave1: Plan;

beforeAll(async () => {
  template = await sampleTemplate(servers().main, 0.2);
  fx = await sampleWavesFixture({ template });
  const rival = await fx.writeManifest(
    'rival.yaml',
    `version: 1\nname: ${fx.prefix}rival\nsource: { url: "\${CLOUDPHONE_CORE_URL}" }\ncontrol: { url: "\${SPLIT_CONTROL_URL}" }\n` +
      `services:\n  rival:\n    database: ${fx.prefix}cloudphone_rival\n    tables: [coupons]\nignore: ["*"]\n`,
  );
  rivalPlan = `${fx.dir}/rival.plan.json`;
  const r = await runCli(['plan', '-m', rival, '-o', rivalPlan], fx.env);
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  const planned = await fx.waves[0]!.cli('plan', '-o', `${fx.dir}/w1.plan.json`);
  expect(planned.code, planned.stderr).toBe(0);
  wave1 = JSON.parse(await readFile(`${fx.dir}/w1.plan.json`, 'utf8')) as Plan;
  const applied = await fx.waves[0]!.cli('apply', `${fx.dir}/w1.plan.json`, '--yes', '--jobs', '2');
  expect(applied.code, `${applied.stdout}\n${applied.stderr}`).toBe(0);
});

afterAll(async () => {
  await fx?.cleanup();
  await dropTemplate(servers().main, template);
});

describe('a later wave\'s plan (SPEC §7)', () => {
  it('lists the foreign keys that stay in the source to the moved tables: none to billing; to devices, from billing\'s backups', async () => {
    expect(wave1.remainingForeignKeys ?? []).toEqual([]);
    const r = await fx.waves[1]!.cli('plan', '-o', `${fx.dir}/w2.plan.json`);
    expect(r.code, r.stderr).toBe(0);
    const wave2 = JSON.parse(await readFile(`${fx.dir}/w2.plan.json`, 'utf8')) as Plan;
    const fks = wave2.remainingForeignKeys!;
    expect(fks.filter((f) => f.movedBy === fx.waves[0]!.name).map((f) => `${f.table} → ${f.references}`)).toEqual(
      expect.arrayContaining(['public.usage_records → public.devices(id)', 'public.orders → public.devices(id)']),
    );
    for (const fk of fks) expect(['device-service', 'app-service']).toContain(fk.referencedService);
    expect(r.stdout).toMatch(/Foreign keys to the moved tables that stay in the source \(\d+\):/);
    expect(r.stdout).toMatch(new RegExp(`public\\.usage_records\\.\\S+ \\(device_id\\) → public\\.devices\\(id\\) \\[device-service; public\\.usage_records is split ${fx.waves[0]!.name}'s backup\\]`));
  });

  it('shows the tables wave 1 moved as moved by it, from the journal and the fence, and drops foreign keys to them as cross-service', async () => {
    const r = await fx.waves[1]!.cli('plan', '--json', '-o', `${fx.dir}/w2.plan.json`);
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as { movedEarlier: MovedTable[]; services: Plan['services']; steps: Plan['steps'] };
    const today = new Date().toISOString().slice(0, 10);
    expect(plan.movedEarlier.map((m) => m.table).sort()).toEqual(BILLING);
    for (const m of plan.movedEarlier) {
      expect(m).toMatchObject({ split: fx.waves[0]!.name, service: 'billing-service', database: `${fx.prefix}cloudphone_billing`, state: 'moved', via: 'journal+fence' });
      expect(m.movedAt!.slice(0, 10)).toBe(today);
    }
    const moved = new Set(BILLING);
    expect(plan.steps.some((s) => s.table !== undefined && moved.has(s.table))).toBe(false);
    const file = JSON.parse(await readFile(`${fx.dir}/w2.plan.json`, 'utf8')) as Plan;
    const fence = file.steps.find((s) => s.kind === 'fence_source') as { tables: string[] };
    expect(fence.tables.filter((t) => moved.has(t))).toEqual([]);
    expect(fence.tables).toContain('public.devices');
    const toBilling = file.services.flatMap((s) => s.droppedForeignKeys).filter((f) => moved.has(f.references.slice(0, f.references.indexOf('('))));
    for (const f of toBilling) expect(f).toMatchObject({ reason: 'cross-service', referencedService: 'billing-service', movedBy: fx.waves[0]!.name });
    const text = await fx.waves[1]!.cli('plan', '-o', `${fx.dir}/w2.plan.json`);
    expect(text.stdout).toContain(`9 tables moved by split ${fx.waves[0]!.name} on ${today} (billing-service, database ${fx.prefix}cloudphone_billing):`);
    const md = await fx.waves[1]!.cli('plan', '--format', 'markdown', '-o', `${fx.dir}/w2.plan.json`);
    expect(md.stdout).toContain('#### Moved by earlier splits (left alone)');
  });

  it('refuses a manifest that names a moved table (exit 2), saying which split moved it and when', async () => {
    const text = (await readFile(fx.waves[1]!.manifestFile, 'utf8')).replace(/^ {6}- device_events\n/m, '      - device_events\n      - invoices\n');
    const file = await fx.writeManifest('twice.yaml', text);
    const r = await runCli(['plan', '-m', file, '-o', `${fx.dir}/twice.plan.json`], fx.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`services\\.device-service\\.tables\\[\\d\\]: invoices was moved by split ${fx.waves[0]!.name} on \\d{4}-\\d\\d-\\d\\d \\(billing-service, database ${fx.prefix}cloudphone_billing\\): a table is moved once`));
  });

  it('knows the moved tables from their fence alone when the journal is elsewhere', async () => {
    const env = { ...fx.env, SPLIT_CONTROL_URL: withDatabase(fx.sourceServer, `${fx.prefix}other_control`) };
    try {
      const r = await runCli(['plan', '-m', fx.waves[1]!.manifestFile, '--json', '-o', `${fx.dir}/w2b.plan.json`], env);
      expect(r.code, r.stderr).toBe(0);
      const plan = JSON.parse(r.stdout) as { movedEarlier: MovedTable[] };
      expect(plan.movedEarlier.map((m) => m.table).sort()).toEqual(BILLING);
      for (const m of plan.movedEarlier) expect(m).toMatchObject({ split: fx.waves[0]!.name, service: null, database: `${fx.prefix}cloudphone_billing`, movedAt: null, via: 'fence' });
    } finally {
      await query(fx.sourceServer, `DROP DATABASE IF EXISTS "${fx.prefix}other_control" WITH (FORCE)`);
    }
  });

  it('apply refuses (exit 4) a plan made before wave 1 that moves one of its tables, changing nothing', async () => {
    const r = await runCli(['apply', rivalPlan, '--yes'], fx.env);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(4);
    expect(r.stderr).toMatch(new RegExp(`moves public\\.coupons, which was moved by split ${fx.waves[0]!.name}`));
    const dbs = await query(fx.sourceServer, `SELECT datname FROM pg_database WHERE datname = $1`, [`${fx.prefix}cloudphone_rival`]);
    expect(dbs).toEqual([]);
  });
});
