import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Output } from '../cli/output.js';
import { planSplit } from '../run/plan.js';
import { executeApply, prepareApply } from '../run/apply.js';
import { verifyRun } from '../run/verify.js';
import { renderVerify } from '../cli/views/verify.js';
import { renderPlan } from '../cli/views/plan.js';
import { movedGroups } from '../cli/views/plan-waves.js';
import { chooseProgress } from '../cli/views/progress.js';
import { removedOnExit, sessionTo, startEmbedded } from './embedded.js';
import { loadSample } from './sample-database.js';
import { pickVars, sampleManifest, SAMPLE_ENV_VARS } from './sample-manifest.js';
import { keepServer } from './explore-env.js';
import { sampleWaves } from './sample-waves.js';
import { writeServicesTree } from './sample-services.js';
import { SourceWriter } from './source-writer.js';
import { redact, withDatabase } from '../conn/connection.js';
import { ExitCode } from '../errors.js';

export interface WavesDemoOptions {
  keep?: boolean;
  /** Sample data scale (1 = ~60k rows). */
  scale?: number;
  jobs?: number;
}

/** What one wave did, as the summary shows it. */
export interface WaveOutcome {
  split: string;
  services: string[];
  databases: string[];
  tablesMoved: number;
  /** Tables earlier waves moved that this wave's plan recognised (and left alone). */
  recognised: number;
  verified: boolean;
  retire: boolean;
  /** Writes the writer made to the tables not yet moved while this wave ran, and its errors. */
  writes: number;
  writeErrors: number;
}

export interface WavesDemoSummary {
  ok: boolean;
  waves: WaveOutcome[];
  writes: number;
  writeErrors: string[];
  folder: string;
  serverUrl: string;
}

function section(out: Output, title: string): void {
  out.say(`\n${out.c.bold.cyan(`━━ ${title} ━━`)}`);
}

/** The source's tables (partitions left out: a write to their parent reaches them). */
async function rootTables(url: string): Promise<string[]> {
  const c = sessionTo(url);
  await c.connect();
  try {
    const r = await c.query<{ key: string }>(
      `SELECT n.nspname || '.' || c.relname AS key FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1`,
    );
    return r.rows.map((x) => x.key);
  } finally {
    await c.end();
  }
}

/**
 * `demo --waves` (SPEC §7): the sample split of `demo` in the three waves of plans/waves/
 * (billing; devices and apps; the rest, retiring the source), one after another, while a
 * writer keeps writing to every table not moved yet. Each wave is planned (recognising
 * what the earlier ones moved), applied and verified; the writer must never fail.
 */
export async function runWavesDemo(opts: WavesDemoOptions, out: Output): Promise<{ code: number; summary: WavesDemoSummary }> {
  const t0 = Date.now();
  section(out, 'Starting an embedded PostgreSQL (no install, no Docker)');
  const password = randomBytes(12).toString('hex');
  const server = await startEmbedded({ password });
  out.secrets.add(password);
  const folder = await mkdtemp(join(tmpdir(), 'cloudphone-split-waves-'));
  // Without --keep the folder goes with the process, Ctrl-C included.
  if (!opts.keep) removedOnExit(folder);
  const summary: WavesDemoSummary = { ok: false, waves: [], writes: 0, writeErrors: [], folder, serverUrl: redact(server.url) };
  let writer: SourceWriter | null = null;
  try {
    out.say(`PostgreSQL 18 listening at ${redact(server.url)}`);
    section(out, 'Creating the shared database cloudphone_core with sample data');
    const admin = sessionTo(server.url);
    await admin.connect();
    await admin.query('CREATE DATABASE cloudphone_core');
    await admin.end();
    const sourceUrl = withDatabase(server.url, 'cloudphone_core');
    await loadSample(sourceUrl, { scale: opts.scale ?? 1 });
    await writeServicesTree(folder, { sourceUrl });
    const waves = sampleWaves();
    // The manifests sit at the top of the tree they repoint: config files must stay inside their folder.
    for (const w of waves) await writeFile(join(folder, `${w.name}.yaml`), sampleManifest({ withConfig: true, wave: w }));
    const env: NodeJS.ProcessEnv = { ...process.env, CLOUDPHONE_CORE_URL: sourceUrl, SPLIT_CONTROL_URL: withDatabase(server.url, 'cloudphone_split') };
    for (const v of SAMPLE_ENV_VARS) {
      if (!v.endsWith('_PASSWORD')) continue;
      env[v] = randomBytes(9).toString('hex');
      out.secrets.add(env[v]!);
    }
    out.say(`Services tree and the three wave manifests written to ${folder}: ${waves.map((w) => `${w.name}.yaml`).join(', ')}`);

    const all = await rootTables(sourceUrl);
    writer = new SourceWriter(sourceUrl);
    await writer.start(all);
    out.say(`A writer now writes to all ${all.length} tables of cloudphone_core, one statement at a time, as the services do.`);
    const moved = new Set<string>();

    for (const [i, w] of waves.entries()) {
      section(out, `Wave ${i + 1}/3: ${w.services.join(', ')}${w.retire ? ' (source.retire: true)' : ''}`);
      const manifest = join(folder, `${w.name}.yaml`);
      const planFile = join(folder, 'plans', `${w.name}.plan.json`);
      const planned = await planSplit({ manifest, output: planFile }, env, out);
      const plan = planned.plan;
      await planned.write();
      if (out.verbose) renderPlan(plan, out);
      for (const g of movedGroups(plan.movedEarlier ?? [])) out.say(`  plan: ${g.tables.length} tables ${g.description}: left alone`);
      const tables = plan.services.flatMap((s) => s.tables.map((t) => t.name));
      out.say(`  plan: ${tables.length} tables to move into ${plan.services.map((s) => s.database).join(', ')}; ${plan.remainingForeignKeys?.length ?? 0} foreign keys stay in the source to them`);
      if (plan.errors.length > 0) {
        for (const e of plan.errors) out.warn(`error: ${e}`);
        return { code: ExitCode.difference, summary };
      }
      for (const t of tables) moved.add(t);
      const writesBefore = writer.writes;
      const errorsBefore = writer.errors.length;
      // This wave's services stop writing to the source; the rest go on, until the wave that retires it.
      if (w.retire) {
        await writer.stop();
        out.say('  writer: stopped (what stays after this wave is legacy)');
      } else {
        await writer.writeTo(all.filter((t) => !moved.has(t)));
        out.say(`  writer: goes on writing to the ${all.length - moved.size} tables not moved yet`);
      }
      const prepared = await prepareApply(planFile, { manifest }, env, out);
      const progress = chooseProgress({ json: out.json, color: out.color, isTTY: out.interactive, stream: out.stdout });
      try {
        const applied = await executeApply(prepared, { jobs: opts.jobs ?? 2, progress }, env, out);
        progress.close();
        out.say(out.c.green(`  apply: ${applied.ran} steps run`));
      } finally {
        progress.close();
      }
      if (!w.retire) await writer.rounds(2);
      const verified = await verifyRun({ manifest, checksums: true }, env, out);
      renderVerify(verified.result, out, { compact: !out.verbose });
      const writes = writer.writes - writesBefore;
      const writeErrors = writer.errors.length - errorsBefore;
      out.say(`  writer: ${writes} writes to the tables not moved during this wave, ${writeErrors === 0 ? out.c.green('0 errors') : out.c.red(`${writeErrors} errors`)}`);
      summary.waves.push({
        split: plan.name,
        services: plan.services.map((s) => s.name),
        databases: plan.services.map((s) => s.database),
        tablesMoved: tables.length,
        recognised: (plan.movedEarlier ?? []).length,
        verified: verified.code === 0,
        retire: w.retire,
        writes,
        writeErrors,
      });
    }
    summary.writes = writer.writes;
    summary.writeErrors = [...writer.errors];
    summary.ok = summary.waves.length === waves.length && summary.waves.every((w) => w.verified) && writer.errors.length === 0;
    printSummary(out, summary, Date.now() - t0);
    if (opts.keep) {
      await keepServer(out, folder, server.url, pickVars(env), [
        `psql -d cloudphone_billing -c '\\dt'`,
        `npx cloudphone-split retention list -m ${join(folder, waves[0]!.name)}.yaml`,
        `npx cloudphone-split status -m ${join(folder, waves[1]!.name)}.yaml`,
      ]);
    }
    return { code: summary.ok ? ExitCode.ok : ExitCode.difference, summary };
  } finally {
    await writer?.stop().catch(() => undefined);
    await server.stop();
    if (!opts.keep) await rm(folder, { recursive: true, force: true });
  }
}

function printSummary(out: Output, s: WavesDemoSummary, ms: number): void {
  const { c } = out;
  out.say(`\n${c.bold('Summary')} (${(ms / 1000).toFixed(1)} s)`);
  for (const [i, w] of s.waves.entries()) {
    const mark = w.verified && w.writeErrors === 0 ? c.green('✔') : c.red('✘');
    const earlier = w.recognised > 0 ? `, ${w.recognised} tables of earlier waves recognised and left alone` : '';
    out.say(`  ${mark} wave ${i + 1} (${w.split}): ${w.tablesMoved} tables moved into ${w.databases.join(', ')}${earlier}; verified${w.retire ? '; source retired' : ''}`);
  }
  const mark = s.writeErrors.length === 0 ? c.green('✔') : c.red('✘');
  out.say(`  ${mark} the writer made ${s.writes} writes to the tables not yet moved, with ${s.writeErrors.length} errors`);
  for (const e of s.writeErrors.slice(0, 5)) out.say(`      ${c.red(e)}`);
  out.say(`  ${c.green('✔')} each wave's tables fenced in cloudphone_core, kept as its backup until its own expiry (retention list)`);
  if (out.json) out.data({ summary: s });
}
