/**
 * `npm run bench [-- --scales 0.3,1,3 --runs 3 --jobs N --json --only a,b,e]`: the copy benchmark.
 * Starts its own two PostgreSQL 15 clusters and, at each scale, generates the data and
 * runs each contender `runs` times, alternating, each time from a freshly reset target;
 * prints medians and spreads, the ratios, WAL, peak RSS and where apply's time went.
 * Asserts nothing; exits 1 only when it cannot run.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_CONTENDERS, DEFAULT_COPY_SERVER, DEFAULT_SCHEMA, ONLY_KEYS, parseScales, runBench } from './run-bench.js';
import { goals, renderReport, type BenchReport } from './report.js';
import { parseSizes } from './schema-heavy.js';

const USAGE = `usage: npm run bench -- [--scales 0.3,1,3] [--runs 3 | --runs 3,3,1] [--jobs 2] [--only a,b,d,e,s,v]
                       [--tables 250,1000,4000] [--schema-runs 3,3,1] [--copy-server-scale 0.3] [--copy-server-runs 1]
                       [--json] [--out report.json]
       npm run bench -- --render report.json[,other.json] [--json]
  (environment: BENCH_SCALES, BENCH_RUNS; --scale N is --scales N; --runs per scale, or one for all;
   --out: the JSON report so far, rewritten after each scale; --render: print saved reports as one, e.g. of a run cut short, or runs of a,e and of s side by side)
  a raw pipe   b pg_dump -Fd + pg_restore   c pg_dump -Fc | pg_restore   d pgcopydb   e cloudphone-split
  s schema-heavy: apply vs pg_dump -s | psql at --tables (default ${DEFAULT_SCHEMA.sizes.join(',')}, runs ${DEFAULT_SCHEMA.runs.join(',')})
  v copy: server vs the relay, two target clusters (default scale ${DEFAULT_COPY_SERVER.scale}, ${DEFAULT_COPY_SERVER.runs} run of each)
  default: ${DEFAULT_CONTENDERS.join(',')}; a quick run: npm run bench -- --scales 0.3 --runs 1 --only a,e`;

/** A list of run counts (`3` or `3,3,1`), matching `count` entries when more than one is given; null when malformed. */
function parseRuns(text: string, count: number): number[] | null {
  const list = text.split(',').map((r) => Number(r.trim()));
  if (list.some((r) => !Number.isInteger(r) || r < 1) || (list.length > 1 && list.length !== count)) return null;
  return list.length === 1 ? Array.from({ length: count }, () => list[0]!) : list;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      scales: { type: 'string' },
      scale: { type: 'string' },
      runs: { type: 'string' },
      jobs: { type: 'string', default: '2' },
      only: { type: 'string' },
      tables: { type: 'string' },
      'schema-runs': { type: 'string' },
      'copy-server-scale': { type: 'string' },
      'copy-server-runs': { type: 'string' },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
      render: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.render) {
    // Several files (e.g. `--only a,e` and `--only s` run side by side): their scales and schema results together.
    const saved = values.render.split(',').map((f) => JSON.parse(readFileSync(f.trim(), 'utf8')) as BenchReport);
    const last = saved[saved.length - 1]!;
    const schema = saved.map((r) => r.schema ?? null).find((x) => x !== null) ?? null;
    const copyServer = saved.map((r) => r.copyServer ?? null).find((x) => x !== null) ?? null;
    const scales = saved.flatMap((r) => r.scales);
    // The goals again from what was measured (a report written after a scale lists only those scales).
    const report: BenchReport = { ...last, scales, schema, copyServer, goals: goals(scales, schema, schema !== null, copyServer) };
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
    return 0;
  }
  const scales = parseScales(values.scales ?? values.scale ?? process.env.BENCH_SCALES ?? '0.3,1,3');
  const jobs = Number(values.jobs);
  const only = values.only ? values.only.split(',').map((s) => s.trim()).filter(Boolean) : null;
  const runList = scales ? parseRuns(values.runs ?? process.env.BENCH_RUNS ?? '3', scales.length) : null;
  const sizes = parseSizes(values.tables ?? DEFAULT_SCHEMA.sizes.join(','));
  const schemaRuns = sizes ? parseRuns(values['schema-runs'] ?? (values.tables ? '3' : DEFAULT_SCHEMA.runs.join(',')), sizes.length) : null;
  const copyServer = {
    scale: Number(values['copy-server-scale'] ?? DEFAULT_COPY_SERVER.scale),
    runs: Number(values['copy-server-runs'] ?? DEFAULT_COPY_SERVER.runs),
  };
  const copyServerOk = copyServer.scale > 0 && Number.isInteger(copyServer.runs) && copyServer.runs >= 1;
  if (!copyServerOk || !scales || !runList || !sizes || !schemaRuns || !Number.isInteger(jobs) || jobs < 1 || only?.some((k) => !ONLY_KEYS.includes(k))) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const out = values.out;
  const report = await runBench({
    scales,
    runs: runList[0]!,
    runsPerScale: runList,
    jobs,
    only,
    schema: { sizes, runs: schemaRuns },
    copyServer,
    log: (m) => process.stderr.write(`${m}\n`),
    onScale: out ? (partial) => writeFileSync(out, `${JSON.stringify(partial, null, 2)}\n`) : undefined,
  });
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
