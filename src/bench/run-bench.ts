import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, totalmem, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_SETTINGS, resetDatabases, sql, startBenchClusters, walBytesSince, walLsn, withDatabase, type BenchClusters } from './bench-clusters.js';
import { cloudphoneSplit } from './cloudphone.js';
import type { BenchContext, Contender, ContenderOutcome } from './contender.js';
import { createDataset, type Dataset } from './dataset.js';
import { pgDumpCustom, pgDumpDirectory } from './pg-dump-restore.js';
import { pgcopydb } from './pgcopydb.js';
import { rawPipe } from './raw-pipe.js';
import { compareTo, goals, type BenchReport, type ContenderReport } from './report.js';

export const CONTENDERS: readonly Contender[] = [rawPipe, pgDumpDirectory, pgDumpCustom, pgcopydb, cloudphoneSplit];

export interface BenchOptions {
  /** 1: the largest table is about 1 GB. */
  scale: number;
  /** Contender keys to run (a..e); null: all. */
  only: string[] | null;
  jobs: number;
  log?: (message: string) => void;
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

async function runOne(c: Contender, base: Omit<BenchContext, 'workDir'>): Promise<ContenderReport> {
  const report: ContenderReport = { key: c.key, name: c.name, skipped: null, error: null, rowsOk: false, walBytes: null, mbPerSec: null, ratioToRaw: null, ratioToBestPeer: null, outcome: null };
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
    await resetDatabases(clusters.target.url, [...dataset.services.map((s) => s.database), ...(c.extraDatabases ?? [])]);
    await c.prepare?.(ctx);
    await sql(clusters.source.url, 'CHECKPOINT');
    await sql(clusters.target.url, 'CHECKPOINT');
    const lsn = await walLsn(clusters.target.url);
    base.log(`(${c.key}) ${c.name}: running`);
    const outcome: ContenderOutcome = await c.run(ctx);
    report.walBytes = await walBytesSince(clusters.target.url, lsn);
    report.outcome = outcome;
    const movedBytes = Object.values(dataset.tableBytes).reduce((a, b) => a + b, 0);
    report.mbPerSec = movedBytes / 1e6 / (outcome.phases.total / 1000);
    const problems = await rowProblems(clusters, dataset);
    report.rowsOk = problems.length === 0;
    outcome.notes.push(...problems.slice(0, 10));
    base.log(`(${c.key}) done in ${(outcome.phases.total / 1000).toFixed(1)} s${problems.length ? `, ${problems.length} tables differ` : ''}`);
  } catch (err) {
    report.error = (err as Error).message.slice(0, 4000);
    base.log(`(${c.key}) failed: ${report.error}`);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  return report;
}

/** Starts two PostgreSQL 15 clusters, generates the data, runs each contender from a reset target, and reports. */
export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  const log = opts.log ?? (() => undefined);
  const contenders = CONTENDERS.filter((c) => !opts.only || opts.only.includes(c.key));
  const clusters = await startBenchClusters();
  try {
    log(`generating the data at scale ${opts.scale}`);
    const t0 = performance.now();
    const dataset = await createDataset(clusters.source.url, 'bench_src', opts.scale);
    const generateMs = performance.now() - t0;
    const base = { clusters, dataset, jobs: opts.jobs, repoRoot: repoRoot(), log };
    const reports: ContenderReport[] = [];
    for (const c of contenders) reports.push(await runOne(c, base));
    compareTo(reports);
    const tables = dataset.services.flatMap((s) => s.tables);
    return {
      machine: {
        nproc: cpus().length,
        cpu: cpus()[0]?.model ?? 'unknown',
        memoryMb: Math.round(totalmem() / 2 ** 20),
        postgres: clusters.version,
        node: process.version,
      },
      scale: opts.scale,
      jobs: opts.jobs,
      settings: { ...BENCH_SETTINGS },
      dataset: {
        tables: tables.length + dataset.ignored.length,
        movedTables: tables.length,
        movedBytes: Object.values(dataset.tableBytes).reduce((a, b) => a + b, 0),
        movedRows: Object.values(dataset.tableRows).reduce((a, b) => a + b, 0),
        largestTable: { name: 'events', bytes: dataset.tableBytes.events ?? 0, rows: dataset.tableRows.events ?? 0 },
        generateMs,
      },
      contenders: reports,
      goals: goals(reports),
    };
  } finally {
    await clusters.stop();
  }
}
