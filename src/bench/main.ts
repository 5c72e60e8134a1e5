/**
 * `npm run bench [-- --scales 0.3,1,3 --runs 3 --jobs N --json --only a,b,e]`: the copy benchmark.
 * Starts its own two PostgreSQL 15 clusters and, at each scale, generates the data and
 * runs each contender `runs` times, alternating, each time from a freshly reset target;
 * prints medians and spreads, the ratios, WAL, peak RSS and where apply's time went.
 * Asserts nothing; exits 1 only when it cannot run.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CONTENDERS, DEFAULT_CONTENDERS, parseScales, runBench } from './run-bench.js';
import { renderReport } from './report.js';

const USAGE = `usage: npm run bench -- [--scales 0.3,1,3] [--runs 3 | --runs 3,3,1] [--jobs 2] [--only a,b,d,e] [--json] [--out report.json]
  (environment: BENCH_SCALES, BENCH_RUNS; --scale N is --scales N; --runs per scale, or one for all;
   --out: the JSON report so far, rewritten after each scale)
  a raw pipe   b pg_dump -Fd + pg_restore   c pg_dump -Fc | pg_restore   d pgcopydb   e cloudphone-split
  default contenders: ${DEFAULT_CONTENDERS.join(',')}; a quick run: npm run bench -- --scales 0.3 --runs 1`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      scales: { type: 'string' },
      scale: { type: 'string' },
      runs: { type: 'string' },
      jobs: { type: 'string', default: '2' },
      only: { type: 'string' },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const scales = parseScales(values.scales ?? values.scale ?? process.env.BENCH_SCALES ?? '0.3,1,3');
  const runList = (values.runs ?? process.env.BENCH_RUNS ?? '3').split(',').map((r) => Number(r.trim()));
  const jobs = Number(values.jobs);
  const only = values.only ? values.only.split(',').map((s) => s.trim()).filter(Boolean) : null;
  const known = CONTENDERS.map((c) => c.key);
  const runs = runList[0]!;
  if (!scales || runList.some((r) => !Number.isInteger(r) || r < 1) || (runList.length > 1 && runList.length !== scales.length) || !Number.isInteger(jobs) || jobs < 1 || only?.some((k) => !known.includes(k))) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const out = values.out;
  const report = await runBench({
    scales,
    runs,
    runsPerScale: runList.length > 1 ? runList : undefined,
    jobs,
    only,
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
