import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Output } from '../cli/output.js';
import { planSplit } from '../run/plan.js';
import { executeApply, prepareApply } from '../run/apply.js';
import { verifyRun } from '../run/verify.js';
import { renderVerify, verifyJson } from '../cli/views/verify.js';
import { planJson, renderPlan } from '../cli/views/plan.js';
import { renderDryRun } from '../cli/views/dry-run.js';
import { chooseProgress } from '../cli/views/progress.js';
import { handlers } from '../steps/index.js';
import { removedOnExit, sessionTo, startEmbedded, type EmbeddedServer } from './embedded.js';
import { keepServer } from './explore-env.js';
import { loadSample } from './sample-database.js';
import { pickVars, sampleManifest, SAMPLE_ENV_VARS } from './sample-manifest.js';
import { writeServicesTree } from './sample-services.js';
import { redact, withDatabase } from '../conn/connection.js';
import { ExitCode } from '../errors.js';

export interface DemoOptions {
  keep?: boolean;
  /** Stop after `apply --dry-run`: print every statement and config diff, change nothing. */
  dryRun?: boolean;
  /** Sample data scale (1 = ~60k rows). */
  scale?: number;
  jobs?: number;
}

/** What the demo ends with: one line per fact a reviewer would ask for. */
export interface DemoSummary {
  ok: boolean;
  databases: string[];
  rowsCopied: number;
  tablesVerified: number;
  foreignKeysDropped: number;
  denormalizedColumns: string[];
  filesRepointed: number;
  backupExpires: string | null;
  folder: string;
  serverUrl: string;
}

function section(out: Output, title: string): void {
  out.say(`\n${out.c.bold.cyan(`━━ ${title} ━━`)}`);
}

/**
 * The whole story on an embedded PostgreSQL: the shared cloudphone_core with its
 * ~30 tables, a services tree like the team's, then plan → apply → verify.
 */
export async function runDemo(opts: DemoOptions, out: Output): Promise<{ code: number; summary: DemoSummary }> {
  const t0 = Date.now();
  section(out, '1/5 Starting an embedded PostgreSQL (no install, no Docker)');
  const password = randomBytes(12).toString('hex');
  const server: EmbeddedServer = await startEmbedded({ password });
  out.secrets.add(password);
  const folder = await mkdtemp(join(tmpdir(), 'cloudphone-split-demo-'));
  // Without --keep the folder goes with the process, Ctrl-C included.
  if (!opts.keep) removedOnExit(folder);
  try {
    out.say(`PostgreSQL 18 listening at ${redact(server.url)}`);
    section(out, '2/5 Creating the shared database cloudphone_core with sample data');
    const admin = sessionTo(server.url);
    await admin.connect();
    await admin.query('CREATE DATABASE cloudphone_core');
    await admin.end();
    const sourceUrl = withDatabase(server.url, 'cloudphone_core');
    await loadSample(sourceUrl, { scale: opts.scale ?? 1 });
    await writeServicesTree(folder, { sourceUrl });
    await mkdir(join(folder, 'plans'), { recursive: true });
    // The manifest sits at the top of the tree it repoints: config files must stay inside its folder.
    const manifestFile = join(folder, 'split.yaml');
    await writeFile(manifestFile, sampleManifest({ withConfig: true }));
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const v of SAMPLE_ENV_VARS) if (v.endsWith('_PASSWORD')) env[v] = randomBytes(9).toString('hex');
    env.CLOUDPHONE_CORE_URL = sourceUrl;
    env.SPLIT_CONTROL_URL = withDatabase(server.url, 'cloudphone_split');
    for (const v of SAMPLE_ENV_VARS) if (v.endsWith('_PASSWORD') && env[v]) out.secrets.add(env[v]!);
    out.say(`Sample services tree and manifest written to ${folder}`);

    section(out, '3/5 plan: what will happen, reviewable like terraform plan');
    const planFile = join(folder, 'plans', 'cloudphone.plan.json');
    const planned = await planSplit({ manifest: manifestFile, output: planFile }, env, out);
    if (out.json) out.data(planJson(planned.plan));
    else renderPlan(planned.plan, out, { sql: out.verbose });
    await planned.write();
    out.say(`\nPlan written to ${planFile}.`);
    if (planned.plan.errors.length > 0) return { code: ExitCode.difference, summary: emptySummary(folder, server.url) };

    if (opts.dryRun) {
      section(out, '4/5 apply --dry-run: every statement and config diff, nothing changed');
      const prepared = await prepareApply(planFile, { manifest: manifestFile, dryRun: true }, env, out);
      renderDryRun(prepared.plan, handlers, out);
      return { code: ExitCode.ok, summary: emptySummary(folder, server.url) };
    }
    section(out, '4/5 apply: journaled, resumable, fenced, copied in one snapshot');
    const prepared = await prepareApply(planFile, { manifest: manifestFile }, env, out);
    const progress = chooseProgress({ json: out.json, color: out.color, isTTY: out.interactive, stream: out.stdout });
    try {
      const applied = await executeApply(prepared, { jobs: opts.jobs ?? 2, progress }, env, out);
      progress.close();
      out.say(out.c.green(`\nSplit ${prepared.plan.name} applied: ${applied.ran} steps run.`));
    } finally {
      progress.close();
    }

    section(out, '5/5 verify --checksums: row counts, every row, schema, sequences, fence, isolation, config');
    const verified = await verifyRun({ manifest: manifestFile, checksums: true, onProgress: (msg) => { if (out.verbose) out.warn(msg); } }, env, out);
    if (out.json) out.data(verifyJson(verified.result));
    else renderVerify(verified.result, out, { compact: !out.verbose });

    const plan = planned.plan;
    const rowcounts = verified.result.checks.filter((c) => c.kind === 'rowcount');
    const summary: DemoSummary = {
      ok: verified.code === 0,
      databases: plan.services.map((s) => s.database),
      rowsCopied: rowcounts.reduce((a, c) => a + (typeof c.target === 'number' ? c.target : Number(c.target ?? 0)), 0),
      tablesVerified: verified.result.checks.filter((c) => c.kind === 'checksum' && c.ok).length,
      foreignKeysDropped: plan.services.reduce((a, s) => a + s.droppedForeignKeys.length, 0),
      denormalizedColumns: plan.services.flatMap((s) => s.denormalize.map((d) => `${d.table}.${d.column} ← ${d.from}`)),
      filesRepointed: new Set(plan.steps.flatMap((s) => (s.kind === 'repoint_config' ? s.edits.map((e) => e.file) : []))).size,
      backupExpires: await backupExpiry(sourceUrl),
      folder,
      serverUrl: redact(server.url),
    };
    printSummary(out, summary, Date.now() - t0);
    if (opts.keep) {
      await keepServer(out, folder, server.url, pickVars(env), [
        `psql -d cloudphone_device -c '\\dt'`,
        `npx cloudphone-split status -m ${manifestFile}`,
        `npx cloudphone-split verify --checksums -m ${manifestFile}`,
        `cat ${planFile}`,
      ]);
    }
    return { code: summary.ok ? ExitCode.ok : ExitCode.difference, summary };
  } finally {
    await server.stop();
    if (!opts.keep) await rm(folder, { recursive: true, force: true });
  }
}

async function backupExpiry(sourceUrl: string): Promise<string | null> {
  const c = sessionTo(withDatabase(sourceUrl, 'postgres'));
  await c.connect();
  try {
    const r = await c.query<{ d: string | null }>(`SELECT shobj_description(oid, 'pg_database') AS d FROM pg_database WHERE datname = 'cloudphone_core'`);
    return /expires ([0-9T:.\-Z]+)/.exec(r.rows[0]?.d ?? '')?.[1] ?? null;
  } finally {
    await c.end();
  }
}

function emptySummary(folder: string, url: string): DemoSummary {
  return { ok: false, databases: [], rowsCopied: 0, tablesVerified: 0, foreignKeysDropped: 0, denormalizedColumns: [], filesRepointed: 0, backupExpires: null, folder, serverUrl: redact(url) };
}

function printSummary(out: Output, s: DemoSummary, ms: number): void {
  const { c } = out;
  const mark = s.ok ? c.green('✔') : c.red('✘');
  out.say(`\n${c.bold('Summary')} (${(ms / 1000).toFixed(1)} s)`);
  out.say(`  ${mark} ${s.databases.length} databases created: ${s.databases.join(', ')}`);
  out.say(`  ${mark} ${s.rowsCopied} rows copied, ${s.tablesVerified} tables verified row by row (checksums)`);
  out.say(`  ${c.yellow('•')} ${s.foreignKeysDropped} cross-service foreign keys dropped; denormalized columns: ${s.denormalizedColumns.join(', ') || 'none'}`);
  out.say(`  ${c.green('✔')} ${s.filesRepointed} config files repointed (.env, app.module.ts, values.yaml, atlas.hcl)`);
  out.say(`  ${c.green('✔')} cloudphone_core fenced, read-only, kept as a backup until ${s.backupExpires ?? '?'}`);
  if (out.json) out.data({ summary: s });
}
