import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createDatabase, query, servers, uniquePrefix } from '../harness/servers.js';
import { loadSample } from '../fixtures/index.js';
import { runCli } from './helpers/cli.js';
import { wavesFixture } from './helpers/waves-fixture.js';

interface InitJson {
  file: string | null;
  sourceVariable: string;
  services: Array<{ name: string; database: string; tables: string[]; views: string[]; droppedForeignKeys: Array<{ text: string }> }>;
  ignore: Array<{ name: string; kind: string; reason: string }>;
  manifest: string;
}

interface PlanJson {
  services: Array<{ name: string; tables: Array<{ name: string }>; droppedForeignKeys: unknown[] }>;
  errors: string[];
}

/** The service holding `table` in a plan's JSON (table names as the plan prints them). */
function serviceOf(plan: PlanJson, table: string): string | undefined {
  return plan.services.find((s) => s.tables.some((t) => t.name === table || t.name === `public.${table}` || t.name.endsWith(`.${table}`)))?.name;
}

describe('init on the sample database', () => {
  const prefix = uniquePrefix();
  let source = '';
  let dir = '';
  let variable = '';

  beforeAll(async () => {
    source = await createDatabase(servers().main, `${prefix}core`);
    await loadSample(source);
    dir = await mkdtemp(join(tmpdir(), 'init-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a manifest that plans unchanged, with the services of the sample grouped together', async () => {
    const file = join(dir, 'plans', 'split.yaml');
    const init = await runCli(['init', '--from', source, '-o', file], {});
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    variable = `${prefix.toUpperCase()}CORE_URL`;
    expect(init.stdout).toContain(`export ${variable}=`);
    expect(init.stdout).toContain(`Wrote ${file}`);

    const text = await readFile(file, 'utf8');
    expect(text).not.toContain(source);
    expect(text).not.toContain(new URL(source).host);
    expect(text).toContain(`url: \${${variable}}`);
    expect(text).toMatch(/# \d+ tables joined by foreign keys around devices; prefix device_/);
    expect(text).toContain('# drops fk devices.user_id -> users (user-service)');
    const doc = parse(text) as { services: Record<string, { database: string; tables: string[] }>; ignore: string[] };
    for (const [name, svc] of Object.entries(doc.services)) {
      expect(name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*-service$/);
      expect(svc.database.startsWith(`${prefix}core_`)).toBe(true);
    }
    expect(doc.ignore).toEqual(expect.arrayContaining(['typeorm_metadata', 'migrations', 'legacy_user_import', 'device_owner_summary']));

    const plan = await runCli(['plan', '-m', file, '-o', join(dir, 'split.plan.json'), '--json'], { [variable]: source });
    expect(plan.code, plan.stderr).toBe(0);
    const planned = JSON.parse(plan.stdout) as PlanJson;
    expect(planned.errors).toEqual([]);
    const same = (tables: string[]): void => {
      const owners = tables.map((t) => serviceOf(planned, t));
      expect(owners[0], `${tables[0]} is owned`).toBeDefined();
      expect(owners, tables.join(', ')).toEqual(tables.map(() => owners[0]));
    };
    same(['devices', 'device_snapshots', 'device_events']);
    same(['orders', 'order_items', 'payments', 'invoices']);
    same(['users', 'roles', 'permissions', 'user_roles', 'role_permissions']);
    expect(new Set([serviceOf(planned, 'devices'), serviceOf(planned, 'orders'), serviceOf(planned, 'users')]).size).toBe(3);
    expect(serviceOf(planned, 'users')).toBe('user-service');
    expect(serviceOf(planned, 'devices')).toBe('device-service');
    expect(serviceOf(planned, 'orders')).toBe('billing-service');
    expect(serviceOf(planned, 'typeorm_metadata')).toBeUndefined();
  });

  it('refuses to overwrite an existing manifest without --force', async () => {
    const file = join(dir, 'existing.yaml');
    await writeFile(file, 'mine\n');
    const refused = await runCli(['init', '--from', source, '-o', file], {});
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('already exists');
    expect(refused.stderr).toContain('--force');
    expect(await readFile(file, 'utf8')).toBe('mine\n');

    const forced = await runCli(['init', '--from', source, '-o', file, '--force'], {});
    expect(forced.code, forced.stderr).toBe(0);
    expect(await readFile(file, 'utf8')).toContain('version: 1');
  });

  it('--json prints the proposed grouping; -o - writes no file', async () => {
    const r = await runCli(['init', '--from', source, '-o', '-', '--json'], {});
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as InitJson;
    expect(out.file).toBeNull();
    expect(out.sourceVariable).toBe(`${prefix.toUpperCase()}CORE_URL`);
    const device = out.services.find((s) => s.name === 'device-service')!;
    expect(device.tables).toEqual(expect.arrayContaining(['devices', 'device_snapshots', 'device_events', 'nodes']));
    expect(device.tables).not.toContain('device_events_2025_01');
    expect(device.views).toEqual(['active_devices']);
    expect(device.droppedForeignKeys.map((k) => k.text)).toContain('devices.user_id -> users (user-service)');
    expect(out.ignore).toContainEqual(expect.objectContaining({ name: 'device_owner_summary', kind: 'view' }));
    expect(out.manifest).toContain('services:');
    expect(out.manifest).not.toContain(source);
    expect(r.stderr).toContain('Proposed 3 services');
    // No file was written: the next step names none.
    expect(r.stderr).toContain('save the manifest above to a file, then: cloudphone-split plan -m <that file>');
    expect(r.stderr).not.toContain('plan -m plans/split.yaml');
  });

  it('fails with exit 2 on a schema that does not exist, naming the ones there are', async () => {
    const r = await runCli(['init', '--from', source, '-o', join(dir, 'never.yaml'), '--schema', 'public,nope'], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('schema nope not found');
    expect(r.stderr).toContain('public');
  });
});

describe('init on two schemas', () => {
  it('qualifies names that two schemas share, ignores a view over a group and a leftover, and plans', async () => {
    const prefix = uniquePrefix();
    const source = await createDatabase(servers().main, `${prefix}Shop-DB`);
    await query(
      source,
      `CREATE SCHEMA app; CREATE SCHEMA crm;
       CREATE TABLE app.customers (id int PRIMARY KEY, name text);
       CREATE TABLE app.carts (id int PRIMARY KEY, customer_id int REFERENCES app.customers);
       CREATE TABLE app.cart_items (cart_id int REFERENCES app.carts, sku text);
       CREATE TABLE app.notes (id int PRIMARY KEY);
       CREATE TABLE crm.notes (id int PRIMARY KEY, customer_id int REFERENCES app.customers);
       CREATE TABLE crm.customers_old (id int PRIMARY KEY, name text);
       CREATE VIEW crm.customer_names AS SELECT c.name FROM app.customers c UNION SELECT o.name FROM crm.customers_old o;`,
    );
    const dir = await mkdtemp(join(tmpdir(), 'init-'));
    try {
      const file = join(dir, 'split.yaml');
      const init = await runCli(['init', '--from', source, '-o', file, '--schema', 'app,crm'], {});
      expect(init.code, init.stderr).toBe(0);
      const text = await readFile(file, 'utf8');
      expect(text).toContain('schemas: [app, crm]');
      expect(text).toContain('app.notes');
      expect(text).toContain('crm.notes');
      expect(text).toMatch(/- customers_old # legacy-looking name/);
      expect(text).toMatch(/- customer_names # a view reading customers \(.+-service\) and customers_old, which stays in the source/);
      const variable = `${prefix.toUpperCase()}SHOP_DB_URL`;
      expect(text).toContain(`\${${variable}}`);
      const plan = await runCli(['plan', '-m', file, '-o', join(dir, 'p.plan.json')], { [variable]: source });
      expect(plan.code, plan.stderr).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('init on a source an earlier split moved tables of', () => {
  it('leaves the moved tables out (they stay as that split\'s backup), and the proposal plans as it says (Synapse\'s third wave)', async () => {
    const fx = await wavesFixture();
    try {
      const applied = await fx.billing.cli('apply', '--yes');
      expect(applied.code, applied.stderr + applied.stdout).toBe(0);
      const file = join(fx.dir, 'next.yaml');
      const init = await runCli(['init', '--from', fx.sourceUrl, '-o', file], fx.env);
      const manifest = await readFile(file, 'utf8');
      const doc = parse(manifest) as { services: Record<string, { tables?: string[] }>; ignore?: string[] };
      const named = [...Object.values(doc.services).flatMap((s) => s.tables ?? []), ...(doc.ignore ?? [])];
      expect(named).toContain('events');
      for (const t of ['invoices', 'invoice_lines', 'invoice_lines_low']) expect(named).not.toContain(t);
      const variable = /export (\w+)=/.exec(init.stdout)![1]!;
      const planned = await runCli(['plan', '-m', file, '-o', join(fx.dir, 'next.plan.json')], { ...fx.env, [variable]: fx.sourceUrl });
      // init's exit code says whether its proposal plans, and it does so here.
      expect(init.code, init.stderr).toBe(planned.code === 0 ? 0 : 1);
      expect(planned.stderr).not.toContain('a table is moved once');
    } finally {
      await fx.cleanup();
    }
  });
});
