import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_SETTINGS, resetDatabases, sql, startBenchClusters, walBytesSince, walLsn, withDatabase, type BenchClusters } from './bench-clusters.js';
import { cloudphoneSplit } from './cloudphone.js';
import type { BenchContext, Contender } from './contender.js';
import { cpuClusters, measureCpu } from './cpu.js';
import { createDataset, type Dataset } from './dataset.js';
import { pgDumpCustom, pgDumpDirectory } from './pg-dump-restore.js';
import { pgcopydb } from './pgcopydb.js';
import { rawPipe } from './raw-pipe.js';
import { runSchemaBench, type SchemaBenchResult } from './schema-heavy.js';
import { runCopyServerBench, type CopyServerBench } from './copy-server.js';
import { compareTo, goals, ratios, summarizeRuns, type BenchReport, type ContenderRun, type ScaleReport } from './report.js';

export const CONTENDERS: readonly Contender[] = [rawPipe, pgDumpDirectory, pgDumpCustom, pgcopydb, cloudphoneSplit];
/** `--only s`: the schema-heavy benchmark (no rows; apply against `pg_dump -s | psql`). */
export const SCHEMA_KEY = 's';
/** `--only v`: `copy: server` against the relay onto two target clusters (src/bench/copy-server.ts). */
export const COPY_SERVER_KEY = 'v';
/** What runs without `--only`: (c), with gzip, is slow and compared with nothing the goals name. */
export const DEFAULT_CONTENDERS: readonly string[] = ['a', 'b', 'd', 'e', SCHEMA_KEY, COPY_SERVER_KEY];
/** Every key `--only` accepts. */
export const ONLY_KEYS: readonly string[] = [...CONTENDERS.map((c) => c.key), SCHEMA_KEY, COPY_SERVER_KEY];
/** The scale and runs (alternating relay and server) of the `copy: server` comparison by default. */
export const DEFAULT_COPY_SERVER = { scale: 0.3, runs: 1 } as const;
/** The schema-heavy sizes (tables) and runs per size by default. */
export const DEFAULT_SCHEMA = { sizes: [250, 1000, 4000], runs: [3, 3, 1] } as const;

/** `0.3,1,3` → [0.3, 1, 3]; null when any is not a positive number. */
export function parseScales(text: string): number[] | null {
  const list = text.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  return list.length > 0 && list.every((n) => Number.isFinite(n) && n > 0) ? list : null;
}

export interface BenchOptions {
  /** Data scales, in order (1: the largest table is about 1 GB). */
  scales: number[];
  /** Runs of each contender at each scale (alternating). */
  runs: number;
  /** Runs at each scale, in the order of `scales`, where they differ from `runs`. */
  runsPerScale?: number[];
  /** Called with the report so far after each scale (to keep what was measured if a later scale is cut short). */
  onScale?: (report: BenchReport) => void;
  /** Contender keys to run (a..e); null: DEFAULT_CONTENDERS. */
  only: string[] | null;
  jobs: number;
  log?: (message: string) => void;
  /** Sizes (tables) and runs per size of the schema-heavy benchmark, when `only` selects it (default DEFAULT_SCHEMA). */
  schema?: { sizes: number[]; runs: number[] };
  /** Scale and runs of the `copy: server` comparison, when `only` selects it (default DEFAULT_COPY_SERVER). */
  copyServer?: { scale: number; runs: number };
}

/** The folder holding package.json (the source tree and dist/ sit at different depths). */
export function repoRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'cloudphone-split') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the cloudphone-split repository root');
    dir = up;
  }
}

/** Row counts of every moved table on the target, against the source's. */
async function rowProblems(clusters: BenchClusters, ds: Dataset): Promise<string[]> {
  const problems: string[] = [];
  for (const s of ds.services) {
    const url = withDatabase(clusters.target.url, s.database);
    for (const t of s.tables) {
      const n = await sql<{ n: string }>(url, `SELECT count(*)::text AS n FROM public.${t}`).then((r) => Number(r[0]!.n)).catch(() => -1);
      if (n !== ds.tableRows[t]) problems.push(`${s.database}.${t}: ${n < 0 ? 'missing' : `${n} rows`}, source ${ds.tableRows[t]}`);
    }
  }
  return problems;
}

async function runOne(c: Contender, base: Omit<BenchContext, 'workDir'>, round: string): Promise<ContenderRun> {
  const report: ContenderRun = { key: c.key, name: c.name, skipped: null, error: null, rowsOk: false, walBytes: null, mbPerSec: null, outcome: null };
  const why = await c.unavailable();
  if (why) {
    report.skipped = why;
    base.log(`(${c.key}) ${c.name}: skipped, ${why}`);
    return report;
  }
  const workDir = await mkdtemp(join(tmpdir(), `cps-bench-${c.key}-`));
  const ctx: BenchContext = { ...base, workDir };
  const { clusters, dataset } = ctx;
  try {
    // The contender's own preparation (apply's fresh copy of the source) before the reset, so that every
    // contender starts right after the previous run's databases were dropped: on a virtual machine whose
    // host takes back idle guest memory, writing into pages freed moments before costs a fraction of
    // writing into pages left idle (docs/benchmarks.md, "Why runs differ"), and preparing after the
    // reset gave only the contenders without a preparation the recently freed pages.
    await c.prepare?.(ctx);
    await resetDatabases(clusters.target.url, [...dataset.services.map((s) => s.database), ...(c.extraDatabases ?? [])]);
    await sql(clusters.source.url, 'CHECKPOINT');
    await sql(clusters.target.url, 'CHECKPOINT');
    const lsn = await walLsn(clusters.target.url);
    base.log(`(${c.key}) ${c.name}: running (${round})`);
    const { result: outcome, cpu } = await measureCpu(cpus().length, () => c.run(ctx), cpuClusters(ctx));
    if (outcome.cpu === undefined) outcome.cpu = cpu;
    report.walBytes = await walBytesSince(clusters.target.url, lsn);
    report.outcome = outcome;
    const movedBytes = Object.values(dataset.tableBytes).reduce((a, b) => a + b, 0);
    report.mbPerSec = movedBytes / 1e6 / (outcome.phases.total / 1000);
    const problems = await rowProblems(clusters, dataset);
    report.rowsOk = problems.length === 0;
    outcome.notes.push(...problems.slice(0, 10));
    const verify = outcome.verify ? `, verify ${(outcome.verify.ms / 1000).toFixed(1)} s` : '';
    base.log(`(${c.key}) done in ${(outcome.phases.total / 1000).toFixed(1)} s${verify}${problems.length ? `, ${problems.length} tables differ` : ''}`);
  } catch (err) {
    report.error = (err as Error).message.slice(0, 4000);
    base.log(`(${c.key}) failed: ${report.error}`);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  return report;
}

/**
 * The order of round `r` (0-based): the contenders rotated by `r`, so that each
 * one runs early in some rounds and late in others (cache, checkpoints and the
 * load of a shared machine fall on every contender alike).
 */
export function roundOrder<T>(contenders: readonly T[], r: number): T[] {
  const k = contenders.length === 0 ? 0 : r % contenders.length;
  return [...contenders.slice(k), ...contenders.slice(0, k)];
}

/** Generates the data at one scale, runs every contender `runs` times, alternating, and summarizes. */
async function runScale(clusters: BenchClusters, contenders: readonly Contender[], scale: number, runCount: number, opts: BenchOptions): Promise<ScaleReport> {
  const log = opts.log ?? (() => undefined);
  await resetDatabases(clusters.source.url, [SOURCE_DATABASE]);
  log(`scale ${scale}: generating the data`);
  const t0 = performance.now();
  const dataset = await createDataset(clusters.source.url, SOURCE_DATABASE, scale);
  const generateMs = performance.now() - t0;
  const base = { clusters, dataset, jobs: opts.jobs, repoRoot: repoRoot(), log };
  const runs = new Map<string, ContenderRun[]>(contenders.map((c) => [c.key, []]));
  for (let r = 0; r < runCount; r++) {
    for (const c of roundOrder(contenders, r)) {
      const list = runs.get(c.key)!;
      // A contender that cannot run here is asked once.
      if (list[0]?.skipped) continue;
      list.push(await runOne(c, base, `scale ${scale}, run ${r + 1} of ${runCount}`));
    }
  }
  const tables = dataset.services.flatMap((s) => s.tables);
  const summaries = contenders.map((c) => summarizeRuns(c.key, c.name, runs.get(c.key)!));
  compareTo(summaries);
  return {
    scale,
    runs: runCount,
    dataset: {
      tables: tables.length + dataset.ignored.length,
      movedTables: tables.length,
      movedBytes: Object.values(dataset.tableBytes).reduce((a, b) => a + b, 0),
      movedRows: Object.values(dataset.tableRows).reduce((a, b) => a + b, 0),
      largestTable: { name: 'events', bytes: dataset.tableBytes.events ?? 0, rows: dataset.tableRows.events ?? 0 },
      generateMs,
    },
    contenders: summaries,
    ratios: ratios(summaries, cpus().length),
  };
}

const SOURCE_DATABASE = 'bench_src';

/**
 * Starts two PostgreSQL 15 clusters and, at each scale, generates the data and runs each
 * contender `runs` times; then, when selected, the schema-heavy benchmark (its own clusters).
 */
export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  const selected = opts.only ?? DEFAULT_CONTENDERS;
  const contenders = CONTENDERS.filter((c) => selected.includes(c.key));
  const withSchema = selected.includes(SCHEMA_KEY);
  const withCopyServer = selected.includes(COPY_SERVER_KEY);
  const log = opts.log ?? (() => undefined);
  const scales: ScaleReport[] = [];
  let schema: SchemaBenchResult | null = null;
  let copyServer: CopyServerBench | null = null;
  let version = '';
  const report = (): BenchReport => ({
    date: new Date().toISOString(),
    machine: {
      nproc: cpus().length,
      cpu: cpus()[0]?.model ?? 'unknown',
      memoryMb: Math.round(totalmem() / 2 ** 20),
      postgres: version,
      node: process.version,
      loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    },
    jobs: opts.jobs,
    runs: opts.runs,
    settings: { ...BENCH_SETTINGS },
    scales: [...scales],
    schema,
    copyServer,
    goals: goals(scales, schema, withSchema, copyServer, withCopyServer),
  });
  if (contenders.length > 0) {
    const clusters = await startBenchClusters();
    version = clusters.version;
    try {
      for (const [i, scale] of opts.scales.entries()) {
        scales.push(await runScale(clusters, contenders, scale, opts.runsPerScale?.[i] ?? opts.runs, opts));
        opts.onScale?.(report());
      }
    } finally {
      await clusters.stop();
    }
  }
  if (withSchema) {
    const { sizes, runs } = opts.schema ?? { sizes: [...DEFAULT_SCHEMA.sizes], runs: [...DEFAULT_SCHEMA.runs] };
    log(`schema-heavy: ${sizes.join(', ')} tables, ${runs.join(', ')} runs`);
    schema = await runSchemaBench({ sizes, runs, repoRoot: repoRoot(), log, onVersion: (v) => (version ||= v) });
    opts.onScale?.(report());
  }
  if (withCopyServer) {
    const { scale, runs } = opts.copyServer ?? DEFAULT_COPY_SERVER;
    log(`copy: server against the relay, two target clusters: scale ${scale}, ${runs} run(s) of each`);
    copyServer = await runCopyServerBench({ scale, runs, jobs: opts.jobs, repoRoot: repoRoot(), log });
    version ||= copyServer.version;
    opts.onScale?.(report());
  }
  return report();
}
