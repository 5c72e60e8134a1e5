/**
 * `npm run bench [-- --scale N --jobs N --json --only a,b,e]`: the copy benchmark.
 * Starts its own two PostgreSQL 15 clusters, generates the data, runs each
 * contender from a freshly reset target and prints the phases, throughput,
 * ratios, WAL and peak RSS. Asserts nothing; exits 1 only when it cannot run.
 */
import { parseArgs } from 'node:util';
import { CONTENDERS, runBench } from './run-bench.js';
import { renderReport } from './report.js';

const USAGE = `usage: npm run bench -- [--scale N] [--jobs N] [--only a,b,c,d,e] [--json]
  a raw pipe   b pg_dump -Fd + pg_restore   c pg_dump -Fc | pg_restore   d pgcopydb   e cloudphone-split`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      scale: { type: 'string', default: '1' },
      jobs: { type: 'string', default: '2' },
      only: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const scale = Number(values.scale);
  const jobs = Number(values.jobs);
  const only = values.only ? values.only.split(',').map((s) => s.trim()).filter(Boolean) : null;
  const known = CONTENDERS.map((c) => c.key);
  if (!(scale > 0) || !Number.isInteger(jobs) || jobs < 1 || only?.some((k) => !known.includes(k))) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const report = await runBench({ scale, jobs, only, log: (m) => process.stderr.write(`${m}\n`) });
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
