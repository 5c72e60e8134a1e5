import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { query, servers, uniquePrefix, withDatabase } from '../harness/servers.js';
import { sampleTemplate, dropTemplate } from './helpers/split-fixture.js';
import { sampleWavesFixture, type SampleWavesFixture, type FixtureWave } from './helpers/sample-waves-fixture.js';
import { leafTables, sequenceValues, tableSums } from './helpers/table-sums.js';
import { catalogSignature } from './helpers/catalog-signature.js';
import { runCli } from './helpers/cli.js';
import { SourceWriter } from '../../src/demo/source-writer.js';
import { SAMPLE_SERVICES, sampleManifest } from '../fixtures/index.js';
import { Journal } from '../../src/engine/journal.js';
import type { Plan } from '../../src/plan/model.js';

const q = (name: string): string => `"${name.replaceAll('"', '""')}"`;
const qkey = (key: string): string => `${q(key.slice(0, key.indexOf('.')))}.${q(key.slice(key.indexOf('.') + 1))}`;

let template = '';
let fx: SampleWavesFixture;
let writer: SourceWriter;
/** Root tables of the source (partitions left out: a write to the parent reaches them). */
let allTables: string[] = [];
/** The root tables each wave moves, from its plan. */
const moves = new Map<string, string[]>();
const single = { prefix: '', dir: '' };

async function rootTables(url: string): Promise<string[]> {
  const rows = await query<{ key: string }>(
    url,
    `SELECT n.nspname || '.' || c.relname AS key FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1`,
  );
  return rows.map((r) => r.key);
}

/** The error a write to `table` gets in the source (null: it went through); it deletes nothing either way. */
async function writeError(table: string): Promise<string | null> {
  try {
    await query(fx.sourceUrl, `DELETE FROM ${qkey(table)} WHERE false`);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Every file of the services tree (services/, deploy/, atlas.hcl), by path. */
async function tree(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(e.parentPath, e.name);
    const rel = relative(dir, path);
    if (e.isFile() && (/^(services|deploy)\//.test(rel) || rel === 'atlas.hcl')) out.set(rel, await readFile(path, 'utf8'));
  }
  return out;
}

async function planOf(wave: FixtureWave): Promise<Plan> {
  const file = join(fx.dir, `${wave.wave.name}.plan.json`);
  const r = await wave.cli('plan', '-o', file);
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  return JSON.parse(await readFile(file, 'utf8')) as Plan;
}

async function applyWave(i: number): Promise<void> {
  const wave = fx.waves[i]!;
  const plan = await planOf(wave);
  moves.set(wave.name, plan.services.flatMap((s) => s.tables.map((t) => t.name)));
  const movedSoFar = new Set(fx.waves.slice(0, i + 1).flatMap((w) => moves.get(w.name) ?? []));
  // The services of this wave stop writing to the source (they are being moved); the others go on,
  // until the wave that retires the source: what stays then is legacy, written by no one.
  if (wave.wave.retire) await writer.stop();
  else await writer.writeTo(allTables.filter((t) => !movedSoFar.has(t)));
  const applied = await wave.cli('apply', join(fx.dir, `${wave.wave.name}.plan.json`), '--yes', '--jobs', '2');
  expect(applied.code, `${applied.stdout}\n${applied.stderr}`).toBe(0);
  if (!wave.wave.retire) await writer.rounds(2);
  expect(writer.errors).toEqual([]);
  const verified = await wave.cli('verify', '--checksums');
  expect(verified.code, `${verified.stdout}\n${verified.stderr}`).toBe(0);
}

function expectFenced(message: string | null, table: string, wave: FixtureWave, database: string): void {
  const [schema, name] = [table.slice(0, table.indexOf('.')), table.slice(table.indexOf('.') + 1)];
  const shown = `${/^[a-z_][a-z0-9_]*$/.test(schema) ? schema : q(schema)}.${/^[a-z_][a-z0-9_]*$/.test(name) ? name : q(name)}`;
  expect(message, table).toBe(`table ${shown} has moved to database ${database}: write there instead (fenced by cloudphone-split, split ${wave.name})`);
}

beforeAll(async () => {
  template = await sampleTemplate(servers().main, 0.2);
  fx = await sampleWavesFixture({ template });
  allTables = await rootTables(fx.sourceUrl);
  writer = new SourceWriter(fx.sourceUrl);
  await writer.start(allTables);
  await writer.rounds(2);
});

afterAll(async () => {
  await writer?.stop();
  await fx?.cleanup();
  if (single.prefix) {
    for (const s of SAMPLE_SERVICES) {
      await query(fx.sourceServer, `DROP DATABASE IF EXISTS ${q(`${single.prefix}cloudphone_${s.key}`)} WITH (FORCE)`).catch(() => undefined);
      await query(fx.sourceServer, `DROP ROLE IF EXISTS ${q(`${single.prefix}cloudphone_${s.key}_svc`)}`).catch(() => undefined);
    }
    for (const db of ['cloudphone_core', 'control']) await query(fx.sourceServer, `DROP DATABASE IF EXISTS ${q(`${single.prefix}${db}`)} WITH (FORCE)`).catch(() => undefined);
  }
  await dropTemplate(servers().main, template);
});

describe('the sample split in three waves while the rest of the source keeps being written (SPEC §7)', () => {
  it('wave 1 moves billing-service while a writer writes to every other table without a single error; the billing tables reject writes with the fence message; verify passes', async () => {
    await applyWave(0);
    const billing = moves.get(fx.waves[0]!.name)!;
    expect(billing).toHaveLength(9);
    const others = allTables.filter((t) => !billing.includes(t));
    for (const t of others) expect(writer.perTable.get(t) ?? 0, t).toBeGreaterThan(2);
    for (const t of billing) expectFenced(await writeError(t), t, fx.waves[0]!, `${fx.prefix}cloudphone_billing`);
    for (const t of others) expect(await writeError(t), t).toBeNull();
  });

  it('wave 2 moves devices and apps; its rollback restores exactly wave 2 (tables writable, config back) and nothing of wave 1', async () => {
    const before = await tree(fx.dir);
    await applyWave(1);
    const wave2 = moves.get(fx.waves[1]!.name)!;
    expect(wave2.sort()).toEqual(['public.applications', 'public.device_applications', 'public.device_events', 'public.device_snapshots', 'public.devices', 'public.nodes']);
    for (const t of wave2) expectFenced(await writeError(t), t, fx.waves[1]!, `${fx.prefix}cloudphone_${t.includes('app') ? 'app' : 'device'}`);
    const repointed = await tree(fx.dir);
    expect(repointed.get('services/device-service/.env')).not.toBe(before.get('services/device-service/.env'));

    const rolled = await fx.waves[1]!.cli('rollback', '--yes');
    expect(rolled.code, `${rolled.stdout}\n${rolled.stderr}`).toBe(0);
    await writer.writeTo(allTables.filter((t) => !moves.get(fx.waves[0]!.name)!.includes(t)));
    // The writer writes to the device and app tables again, in the source.
    await writer.rounds(2);
    expect(writer.errors).toEqual([]);
    for (const t of wave2) expect(await writeError(t), t).toBeNull();
    expect(await tree(fx.dir)).toEqual(before);
    const dbs = await query<{ datname: string }>(fx.sourceServer, `SELECT datname FROM pg_database WHERE datname = ANY ($1) ORDER BY 1`, [
      [`${fx.prefix}cloudphone_device`, `${fx.prefix}cloudphone_app`, `${fx.prefix}cloudphone_billing`],
    ]);
    expect(dbs.map((d) => d.datname)).toEqual([`${fx.prefix}cloudphone_billing`]);
    // Wave 1 untouched: its fence, its backup and its verification.
    for (const t of moves.get(fx.waves[0]!.name)!) expectFenced(await writeError(t), t, fx.waves[0]!, `${fx.prefix}cloudphone_billing`);
    const verified = await fx.waves[0]!.cli('verify', '--checksums');
    expect(verified.code, `${verified.stdout}\n${verified.stderr}`).toBe(0);
    const list = await fx.waves[0]!.cli('retention', 'list', '--json');
    expect(list.code, list.stderr).toBe(0);
    const backups = JSON.parse(list.stdout) as Array<{ split: string; state: string }>;
    expect(backups.filter((b) => b.split === fx.waves[0]!.name).map((b) => b.state)).toEqual(['scheduled']);
    expect(backups.filter((b) => b.split === fx.waves[1]!.name).map((b) => b.state)).toEqual(['restored']);
  });

  it('refuses (exit 1, nothing changed) to roll back a wave that a later split depends on', async () => {
    const journal = await Journal.open(fx.controlUrl);
    const later = `${fx.prefix}later`;
    try {
      // A later split of the same source whose plan copied a billing table (a plan made before its tables were known as moved).
      const wave2 = JSON.parse(await readFile(join(fx.dir, `${fx.waves[1]!.wave.name}.plan.json`), 'utf8')) as Plan;
      const copy = wave2.steps.find((s) => s.kind === 'copy_data')!;
      const plan: Plan = { ...wave2, name: later, steps: [...wave2.steps, { ...copy, id: `${copy.id}:orders`, table: 'public.orders' }] };
      const run = await journal.startRun(later, plan);
      // It ran: its preflight and that copy are done (a split whose only run stopped at its preflight depends on nothing).
      const preflight = plan.steps.find((s) => s.kind === 'preflight')!;
      await journal.stepDone(run.runId, preflight.id, {});
      await journal.stepDone(run.runId, `${copy.id}:orders`, {});
      await journal.finishRun(run.runId, 'succeeded');
      const r = await fx.waves[0]!.cli('rollback', '--yes');
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
      expect(r.stderr).toContain(`split ${fx.waves[0]!.name} cannot be rolled back: a later split depends on the tables it moved`);
      expect(r.stderr).toContain(`split ${later} copied public.orders`);
      for (const t of moves.get(fx.waves[0]!.name)!) expectFenced(await writeError(t), t, fx.waves[0]!, `${fx.prefix}cloudphone_billing`);
      await journal.markRolledBack(later);
    } finally {
      await journal.close();
    }
  });

  it('waves 2 and 3 then move the rest; every target database equals the single split\'s (rows, schema, sequences)', async () => {
    await applyWave(1);
    await applyWave(2);
    expect(writer.errors).toEqual([]);
    for (const [i, w] of fx.waves.entries()) {
      for (const t of moves.get(w.name)!) expect(await writeError(t), `${t} (wave ${i + 1})`).not.toBeNull();
    }

    // The single split of the same data: the source as the waves left it, without their fences and marks.
    single.prefix = uniquePrefix();
    const copyDb = `${single.prefix}cloudphone_core`;
    await query(fx.sourceServer, `CREATE DATABASE ${q(copyDb)} TEMPLATE ${q(fx.sourceDb)}`);
    const copyUrl = withDatabase(fx.sourceServer, copyDb);
    await query(copyUrl, 'DROP SCHEMA cloudphone_split CASCADE');
    const comments = await query<{ key: string; comment: string | null }>(
      withDatabase(fx.sourceServer, template),
      `SELECT n.nspname || '.' || c.relname AS key, obj_description(c.oid, 'pg_class') AS comment
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')`,
    );
    for (const c of comments) await query(copyUrl, `COMMENT ON TABLE ${qkey(c.key)} IS ${c.comment === null ? 'NULL' : `'${c.comment.replaceAll("'", "''")}'`}`);
    const manifest = await fx.writeManifest('single.yaml', sampleManifest({ prefix: single.prefix }));
    const env = { ...fx.env, CLOUDPHONE_CORE_URL: copyUrl, SPLIT_CONTROL_URL: withDatabase(fx.sourceServer, `${single.prefix}control`) };
    const applied = await runCli(['apply', '-m', manifest, '--yes', '--jobs', '2'], env);
    expect(applied.code, `${applied.stdout}\n${applied.stderr}`).toBe(0);

    for (const s of SAMPLE_SERVICES) {
      const waves = withDatabase(fx.sourceServer, `${fx.prefix}cloudphone_${s.key}`);
      const once = withDatabase(fx.sourceServer, `${single.prefix}cloudphone_${s.key}`);
      const tables = await leafTables(once);
      expect(await leafTables(waves), s.name).toEqual(tables);
      expect(await tableSums(waves, tables), s.name).toEqual(await tableSums(once, tables));
      expect(await catalogSignature(fx.sourceServer, `${fx.prefix}cloudphone_${s.key}`, fx.prefix), s.name).toEqual(
        await catalogSignature(fx.sourceServer, `${single.prefix}cloudphone_${s.key}`, single.prefix),
      );
      expect(await sequenceValues(waves), s.name).toEqual(await sequenceValues(once));
    }
  });

  it('retention prune after expiry drops the moved tables wave by wave, and the database only after the retiring wave', async () => {
    const now = ['--now', new Date(Date.now() + 30 * 86_400_000).toISOString()];
    const exists = async (table: string) => (await query<{ r: string | null }>(fx.sourceServer.replace(/\/postgres$/, `/${fx.sourceDb}`), `SELECT to_regclass($1)::text AS r`, [qkey(table)]))[0]!.r !== null;
    const database = async () => (await query(fx.sourceServer, `SELECT 1 FROM pg_database WHERE datname = $1`, [fx.sourceDb])).length === 1;
    const [w1, w2, w3] = fx.waves as [FixtureWave, FixtureWave, FixtureWave];
    const stays = ['public.typeorm_metadata', 'public.migrations', 'public.legacy_user_import'];

    const p1 = await w1.cli('retention', 'prune', '--yes', '--no-archive', ...now);
    expect(p1.code, `${p1.stdout}\n${p1.stderr}`).toBe(0);
    for (const t of moves.get(w1.name)!) expect(await exists(t), t).toBe(false);
    for (const t of [...moves.get(w2.name)!, ...moves.get(w3.name)!, ...stays]) expect(await exists(t), t).toBe(true);
    expect(await database()).toBe(true);

    // A view left in the source (ignored: it reads devices and users) still needs wave 2's tables: prune refuses and names it.
    const refused = await w2.cli('retention', 'prune', '--yes', '--no-archive', ...now);
    expect(refused.code, `${refused.stdout}\n${refused.stderr}`).toBe(1);
    expect(`${refused.stdout}\n${refused.stderr}`).toContain('device_owner_summary');
    for (const t of moves.get(w2.name)!) expect(await exists(t), t).toBe(true);
    // What its owner does: the legacy view goes, then the backup can.
    await query(fx.sourceUrl, `BEGIN READ WRITE; DROP VIEW public.device_owner_summary; COMMIT`);
    const p2 = await w2.cli('retention', 'prune', '--yes', '--no-archive', ...now);
    expect(p2.code, `${p2.stdout}\n${p2.stderr}`).toBe(0);
    for (const t of moves.get(w2.name)!) expect(await exists(t), t).toBe(false);
    for (const t of [...moves.get(w3.name)!, ...stays]) expect(await exists(t), t).toBe(true);
    expect(await database()).toBe(true);

    // The retiring wave drops the database, but not while its legacy tables hold rows that exist nowhere else
    // (without an archive: pg_dump 18 is not at hand here): prune names them, and their owner moves them out.
    const legacy = await w3.cli('retention', 'prune', '--yes', '--no-archive', ...now);
    expect(legacy.code, `${legacy.stdout}\n${legacy.stderr}`).toBe(1);
    expect(legacy.stdout).toMatch(/still holds rows that exist nowhere else: public\.legacy_user_import .*public\.migrations .*public\.typeorm_metadata/);
    expect(await database()).toBe(true);
    await query(fx.sourceUrl, `BEGIN READ WRITE; DROP TABLE public.legacy_user_import, public.migrations, public.typeorm_metadata; COMMIT`);
    const p3 = await w3.cli('retention', 'prune', '--yes', '--no-archive', ...now);
    expect(p3.code, `${p3.stdout}\n${p3.stderr}`).toBe(0);
    expect(await database()).toBe(false);
  });
});
