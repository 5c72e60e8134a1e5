/**
 * `npm run bench:copy-server [-- --scale 0.3 --runs 3 --jobs 2 --json]`: `copy: server`
 * beside the relay, onto two target clusters. Starts three PostgreSQL 15 clusters (the
 * source and two targets, the benchmark's settings plus logical replication), generates
 * the benchmark dataset in the source, and splits it with the built CLI onto both
 * targets (bench-core on one, the other services on the other), alternately with
 * `copy: relay` and `copy: server`, each run from a fresh copy of the source into empty
 * targets, each followed by `verify --checksums`. Prints each run's apply time, the
 * medians and the ratio server / relay. Asserts nothing.
 *
 * The dataset's denormalized column is left out here: a table with one is always copied
 * by the relay (the tool fills the column), which would measure the relay twice.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startLocalCluster, type LocalCluster } from '../pg/cluster.js';
import { BENCH_SETTINGS, createDatabases, resetDatabases, sql, withDatabase } from './bench-clusters.js';
import { createDataset, type Dataset } from './dataset.js';
import { PG15_BIN, runCommand } from './shell.js';

export type CopyMethod = 'relay' | 'server';

/** Both ends of a logical replication: what `copy: server` needs, set the same for the relay's runs. */
const REPLICATION_SETTINGS: Readonly<Record<string, string>> = {
  wal_level: 'logical',
  max_replication_slots: '32',
  max_wal_senders: '32',
  max_logical_replication_workers: '16',
  max_worker_processes: '24',
  max_sync_workers_per_subscription: '2',
};

const SOURCE_COPY = 'bench_src_copy';
const CONTROL = 'bench_control';
const TARGET_SERVERS = ['target-a', 'target-b'] as const;

export interface CopyServerRun {
  method: CopyMethod;
  /** Wall-clock time of `apply`, milliseconds. */
  applyMs: number;
  /** Wall-clock window of the data steps in the journal (copy_data and the server copies). */
  dataMs: number | null;
  verifyOk: boolean;
  peakRssKb: number | null;
}

export interface CopyServerBench {
  scale: number;
  version: string;
  jobs: number;
  /** Bytes of the moved tables in the source. */
  bytes: number;
  /** Service → target server. */
  placement: Record<string, string>;
  runs: CopyServerRun[];
  median: Record<CopyMethod, number>;
  /** Median apply of copy: server / median apply of the relay. */
  ratio: number;
}

export interface CopyServerBenchOptions {
  scale: number;
  runs: number;
  jobs: number;
  repoRoot: string;
  log?: (message: string) => void;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The manifest: the dataset's services spread over the two target servers, without denormalized columns. */
function manifest(ds: Dataset, method: CopyMethod, placement: Record<string, string>): string {
  const lines = [
    'version: 1',
    'name: bench',
    'source:',
    '  url: ${BENCH_SOURCE_URL}',
    'control:',
    '  url: ${BENCH_CONTROL_URL}',
    'servers:',
    '  target-a: ${BENCH_TARGET_A_URL}',
    '  target-b: ${BENCH_TARGET_B_URL}',
    'mode: offline',
    `copy: ${method}`,
    'retention:',
    '  days: 1',
    'services:',
  ];
  for (const s of ds.services) lines.push(`  ${s.name}:`, `    database: ${s.database}`, `    server: ${placement[s.name]}`, `    tables: [${s.tables.join(', ')}]`);
  lines.push(`ignore: [${ds.ignored.join(', ')}]`);
  return `${lines.join('\n')}\n`;
}

async function dataWindow(controlUrl: string): Promise<number | null> {
  const r = await sql<{ ms: string | null }>(
    controlUrl,
    `SELECT (extract(epoch FROM max(finished_at) - min(started_at)) * 1000)::text AS ms FROM cloudphone_split.steps
      WHERE run_id = (SELECT max(id) FROM cloudphone_split.runs WHERE split = 'bench')
        AND kind IN ('copy_data', 'start_server_copy', 'wait_server_copy')`,
  );
  return r[0]?.ms ? Number(r[0].ms) : null;
}

async function oneRun(
  ctx: { source: LocalCluster; targets: LocalCluster[]; ds: Dataset; dir: string; repoRoot: string; jobs: number; placement: Record<string, string> },
  method: CopyMethod,
): Promise<CopyServerRun> {
  const { source, targets, ds } = ctx;
  await resetDatabases(source.url, [SOURCE_COPY, CONTROL]);
  for (const t of targets) await resetDatabases(t.url, ds.services.map((s) => s.database));
  await sql(source.url, `CREATE DATABASE ${SOURCE_COPY} TEMPLATE ${ds.database} STRATEGY FILE_COPY`);
  await createDatabases(source.url, [CONTROL]);
  const file = join(ctx.dir, `split-${method}.yaml`);
  await writeFile(file, manifest(ds, method, ctx.placement));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: '1',
    BENCH_SOURCE_URL: withDatabase(source.url, SOURCE_COPY),
    BENCH_CONTROL_URL: withDatabase(source.url, CONTROL),
    BENCH_TARGET_A_URL: targets[0]!.url,
    BENCH_TARGET_B_URL: targets[1]!.url,
  };
  const cli = join(ctx.repoRoot, 'bin', 'cloudphone-split.js');
  const apply = await runCommand(cli, ['apply', '-m', file, '--yes', '--jobs', String(ctx.jobs), '--json', '--no-color'], { env, cwd: ctx.dir, measureRss: true });
  const dataMs = await dataWindow(env.BENCH_CONTROL_URL!);
  const verify = await runCommand(cli, ['verify', '-m', file, '--checksums', '--json', '--no-color'], { env, cwd: ctx.dir, check: false });
  return { method, applyMs: apply.ms, dataMs, verifyOk: verify.code === 0, peakRssKb: apply.peakRssKb };
}

/** Runs the comparison: `runs` runs of each method, alternating, relay first. */
export async function runCopyServerBench(opts: CopyServerBenchOptions): Promise<CopyServerBench> {
  const log = opts.log ?? (() => undefined);
  const settings = { ...BENCH_SETTINGS, ...REPLICATION_SETTINGS };
  const clusters: LocalCluster[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'cps-bench-copy-server-'));
  try {
    for (let i = 0; i < 3; i++) clusters.push(await startLocalCluster({ binDir: PG15_BIN, settings }));
    const [source, ...targets] = clusters as [LocalCluster, LocalCluster, LocalCluster];
    log(`generating the dataset at scale ${opts.scale}...`);
    const generated = await createDataset(source.url, 'bench_src', opts.scale);
    const ds: Dataset = { ...generated, services: generated.services.map((s) => ({ ...s, denormalize: [] })) };
    const placement = Object.fromEntries(ds.services.map((s, i) => [s.name, TARGET_SERVERS[i === 0 ? 0 : 1]!]));
    const version = (await sql<{ v: string }>(source.url, 'SELECT version() AS v'))[0]!.v;
    const runs: CopyServerRun[] = [];
    for (let i = 0; i < opts.runs; i++) {
      for (const method of ['relay', 'server'] as const) {
        log(`run ${i + 1} of ${opts.runs}: copy: ${method}...`);
        const run = await oneRun({ source, targets, ds, dir, repoRoot: opts.repoRoot, jobs: opts.jobs, placement }, method);
        log(`  apply ${(run.applyMs / 1000).toFixed(1)} s, verify --checksums ${run.verifyOk ? 'passed' : 'FAILED'}`);
        runs.push(run);
      }
    }
    const med = (m: CopyMethod) => median(runs.filter((r) => r.method === m).map((r) => r.applyMs));
    const m = { relay: med('relay'), server: med('server') };
    return {
      scale: opts.scale,
      version,
      jobs: opts.jobs,
      bytes: Object.values(ds.tableBytes).reduce((a, b) => a + b, 0),
      placement,
      runs,
      median: m,
      ratio: m.server / m.relay,
    };
  } finally {
    for (const c of clusters) await c.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

/** The report as text. */
export function renderCopyServerBench(r: CopyServerBench): string {
  const s = (ms: number | null) => (ms === null ? '?' : `${(ms / 1000).toFixed(1)} s`);
  const mb = (kb: number | null) => (kb === null ? '?' : `${Math.round(kb / 1024)} MB`);
  const lines = [
    `copy: server vs copy: relay, two target clusters (scale ${r.scale}, ${(r.bytes / 1024 / 1024).toFixed(0)} MB moved, --jobs ${r.jobs})`,
    `  ${r.version}`,
    `  placement: ${Object.entries(r.placement).map(([svc, srv]) => `${svc} → ${srv}`).join(', ')}`,
    '  run  copy     apply      data steps  verify --checksums  CLI peak RSS',
  ];
  const seen: Record<CopyMethod, number> = { relay: 0, server: 0 };
  for (const run of r.runs) {
    seen[run.method]++;
    lines.push(`  ${String(seen[run.method]).padStart(3)}  ${run.method.padEnd(7)}  ${s(run.applyMs).padStart(8)}  ${s(run.dataMs).padStart(10)}  ${(run.verifyOk ? 'passed' : 'FAILED').padStart(18)}  ${mb(run.peakRssKb).padStart(12)}`);
  }
  lines.push(
    `  median apply: relay ${s(r.median.relay)}, server ${s(r.median.server)}: copy: server / relay = ${r.ratio.toFixed(2)}`,
    '',
    'The relay moves every row through this tool; copy: server has each target cluster pull its own tables from the',
    'source (logical replication table synchronisation). Both copy while the source is fenced; all clusters and the',
    'CLI share this machine, so the ratio shows the cost of each path here, not the scaling across machines.',
  );
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { scale: { type: 'string', default: '0.3' }, runs: { type: 'string', default: '1' }, jobs: { type: 'string', default: '2' }, json: { type: 'boolean', default: false } },
  });
  const scale = Number(values.scale);
  const runs = Number(values.runs);
  const jobs = Number(values.jobs);
  if (!(scale > 0) || !Number.isInteger(runs) || runs < 1 || !Number.isInteger(jobs) || jobs < 1) {
    process.stderr.write('usage: npm run bench:copy-server -- [--scale 0.3] [--runs 1] [--jobs 2] [--json]\n');
    return 2;
  }
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const result = await runCopyServerBench({ scale, runs, jobs, repoRoot, log: (m) => process.stderr.write(`${m}\n`) });
  process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : renderCopyServerBench(result));
  return result.runs.every((r) => r.verifyOk) ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
