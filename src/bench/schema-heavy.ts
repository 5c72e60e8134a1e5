/**
 * `npm run bench:schema [-- --tables 250,1000,4000 --runs N --json]`: schema-heavy splits.
 * Two throw-away PostgreSQL 15 clusters (source and target, the same settings as the copy
 * benchmark); per size, a generated schema of that many tables (10 services, about 4.5
 * indexes per table, a foreign key to the previous table of the same service, no rows);
 * then, alternating, `pg_dump -s | psql` of the source into one fresh target database and
 * `cloudphone-split apply --jobs 2` (plan included) into the services' fresh databases on
 * the same target. Prints each time, the ratio and apply's cost per step. Asserts nothing.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createDatabases, resetDatabases, sql, startBenchClusters, withDatabase, type BenchClusters } from './bench-clusters.js';
import { pgBin, runCommand, runScript } from './shell.js';
import { Journal } from '../engine/journal.js';
import type { Step } from '../plan/model.js';

const SERVICES = 10;
const SOURCE = 'bench_schema';
const APPLY_SOURCE = 'bench_schema_apply';
const CONTROL = 'bench_schema_control';
const DUMP_TARGET = 'bench_schema_dump';

/** One size's measurements (milliseconds). */
export interface SchemaSizeResult {
  tables: number;
  indexes: number;
  foreignKeys: number;
  steps: number;
  dumpMs: number[];
  applyMs: number[];
  /** Journal of the last apply run: per step kind, count and window (first start to last end). */
  /** Per step kind: how many, their durations added up, and the window from the first start to the last end. */
  kinds: Array<{ kind: string; count: number; sumMs: number; windowMs: number }>;
  /** Journal of each apply run: first step start to last step end (the rest of the apply is planning and checks). */
  runMs: number[];
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The generating SQL: table i of service s has a key, a unique code, 2 or 3 more indexes, and a foreign key to table i-1 of its service. */
export function schemaSql(tables: number, from = 1, to = tables): string {
  const per = Math.ceil(tables / SERVICES);
  return `${from === 1 ? "CREATE TYPE public.state AS ENUM ('on', 'off');" : ''}
    DO $$ DECLARE t text; p text; BEGIN
      FOR i IN ${from}..${to} LOOP
        t := format('public.s%s_t%s', (i - 1) / ${per}, i);
        p := CASE WHEN (i - 1) % ${per} > 0 THEN format('REFERENCES public.s%s_t%s (id)', (i - 1) / ${per}, i - 1) ELSE '' END;
        EXECUTE format('CREATE TABLE %s (id bigserial PRIMARY KEY, parent bigint %s, code text NOT NULL UNIQUE, name text NOT NULL DEFAULT %L,
          state public.state, amount numeric(12,2), created timestamptz DEFAULT now(), CHECK (length(name) < 100))', t, p, 'n' || i);
        EXECUTE format('CREATE INDEX ON %s (name)', t);
        EXECUTE format('CREATE INDEX ON %s (parent)', t);
        IF i % 2 = 0 THEN EXECUTE format('CREATE INDEX ON %s (state, created)', t); END IF;
        EXECUTE format('COMMENT ON TABLE %s IS %L', t, 'table ' || i);
      END LOOP;
    END $$`;
}

function manifest(tables: number): string {
  const per = Math.ceil(tables / SERVICES);
  const services = Array.from({ length: Math.min(SERVICES, Math.ceil(tables / per)) }, (_, s) =>
    [`  svc${s}:`, `    database: bench_schema_svc${s}`, '    server: target', `    tables: ["s${s}_t*"]`].join('\n'),
  );
  return [
    'version: 1',
    'name: bench_schema',
    'source:',
    '  url: ${BENCH_SOURCE_URL}',
    'control:',
    '  url: ${BENCH_CONTROL_URL}',
    'servers:',
    '  target: ${BENCH_TARGET_URL}',
    'mode: offline',
    'retention:',
    '  days: 1',
    'services:',
    ...services,
    '',
  ].join('\n');
}

const serviceDatabases = Array.from({ length: SERVICES }, (_, s) => `bench_schema_svc${s}`);

async function timeDump(c: BenchClusters): Promise<number> {
  await resetDatabases(c.target.url, [DUMP_TARGET]);
  await createDatabases(c.target.url, [DUMP_TARGET]);
  const r = await runScript('"$PG_DUMP" -s -d "$SRC" | "$PSQL" -q -X -v ON_ERROR_STOP=1 -d "$DST" >/dev/null', {
    PG_DUMP: pgBin('pg_dump'),
    PSQL: pgBin('psql'),
    SRC: withDatabase(c.source.url, SOURCE),
    DST: withDatabase(c.target.url, DUMP_TARGET),
  });
  return r.ms;
}

async function timeApply(
  c: BenchClusters,
  cli: string,
  file: string,
  workDir: string,
): Promise<{ ms: number; runMs: number; steps: number; kinds: SchemaSizeResult['kinds'] }> {
  await resetDatabases(c.target.url, serviceDatabases);
  await resetDatabases(c.source.url, [APPLY_SOURCE, CONTROL]);
  await sql(c.source.url, `CREATE DATABASE ${APPLY_SOURCE} TEMPLATE ${SOURCE} STRATEGY FILE_COPY`);
  await createDatabases(c.source.url, [CONTROL]);
  const controlUrl = withDatabase(c.source.url, CONTROL);
  const r = await runCommand(cli, ['apply', '-m', file, '--yes', '--jobs', '2', '--json', '--no-color'], {
    env: { BENCH_SOURCE_URL: withDatabase(c.source.url, APPLY_SOURCE), BENCH_TARGET_URL: c.target.url, BENCH_CONTROL_URL: controlUrl, NO_COLOR: '1' },
    cwd: workDir,
  });
  const kinds = await sql<{ kind: string; n: number; sum_ms: string; window_ms: string }>(
    controlUrl,
    // Steps run in one batch share their start and end: each batch's time is counted once.
    `SELECT kind, sum(n)::int AS n, (extract(epoch FROM sum(finished_at - started_at)) * 1000)::text AS sum_ms,
            (extract(epoch FROM max(finished_at) - min(started_at)) * 1000)::text AS window_ms
       FROM (SELECT kind, started_at, finished_at, count(*) AS n FROM cloudphone_split.steps
              WHERE run_id = (SELECT max(id) FROM cloudphone_split.runs) AND finished_at IS NOT NULL
              GROUP BY kind, started_at, finished_at) AS b
      GROUP BY kind ORDER BY min(started_at)`,
  );
  const span = await sql<{ ms: string }>(
    controlUrl,
    `SELECT (extract(epoch FROM max(finished_at) - min(started_at)) * 1000)::text AS ms
       FROM cloudphone_split.steps WHERE run_id = (SELECT max(id) FROM cloudphone_split.runs)`,
  );
  const steps = kinds.reduce((a, k) => a + k.n, 0);
  return { ms: r.ms, runMs: Number(span[0]?.ms ?? NaN), steps, kinds: kinds.map((k) => ({ kind: k.kind, count: k.n, sumMs: Number(k.sum_ms), windowMs: Number(k.window_ms) })) };
}

/** The journal's cost per step (ms), written one step at a time and in batches of `batch`, on the bench's control database. */
export interface JournalCost {
  steps: number;
  batch: number;
  perStepMs: number;
  batchedMs: number;
}

async function journalCost(controlUrl: string, steps: number, batch: number): Promise<JournalCost> {
  const journal = await Journal.open(controlUrl);
  try {
    const plan = (name: string) => ({
      steps: Array.from({ length: steps }, (_, i) => ({ id: `copy_data:${name}:t${i}`, kind: 'copy_data', dependsOn: [], description: '', sql: [] }) as unknown as Step),
    });
    const one = await journal.startRun('journal_cost_single', plan('single'));
    let t = performance.now();
    for (const step of plan('single').steps) {
      await journal.stepStarted(one.runId, step.id);
      await journal.stepDone(one.runId, step.id, { rows: 0, bytes: 0, detail: { sourceRows: 0 } });
    }
    const perStepMs = (performance.now() - t) / steps;
    await journal.finishRun(one.runId, 'succeeded');
    const many = await journal.startRun('journal_cost_batched', plan('batched'));
    const ids = plan('batched').steps.map((x) => x.id);
    t = performance.now();
    for (let i = 0; i < ids.length; i += batch) {
      const chunk = ids.slice(i, i + batch);
      await journal.stepsStarted(many.runId, chunk);
      await journal.stepsDone(many.runId, chunk.map((stepId) => ({ stepId, result: { rows: 0, bytes: 0, detail: { sourceRows: 0 } } })));
    }
    const batchedMs = (performance.now() - t) / steps;
    await journal.finishRun(many.runId, 'succeeded');
    return { steps, batch, perStepMs, batchedMs };
  } finally {
    await journal.close();
  }
}

/** What the schema-heavy benchmark measured. */
export interface SchemaBenchResult {
  sizes: SchemaSizeResult[];
  journal: JournalCost;
}

/** `250,1000,4000` → [250, 1000, 4000]; null unless each is an integer of at least one table per service. */
export function parseSizes(text: string): number[] | null {
  const sizes = text.split(',').map((x) => x.trim()).filter(Boolean).map(Number);
  return sizes.length > 0 && sizes.every((n) => Number.isInteger(n) && n >= SERVICES) ? sizes : null;
}

/** Runs the benchmark at each size; `log` gets progress lines. */
export async function runSchemaBench(opts: {
  sizes: number[];
  /** Runs per size: one count for all, or one per size (in the order of `sizes`). */
  runs: number | number[];
  log: (m: string) => void;
  repoRoot: string;
  /** Told the clusters' PostgreSQL version once they run. */
  onVersion?: (version: string) => void;
}): Promise<SchemaBenchResult> {
  const cli = join(opts.repoRoot, 'bin', 'cloudphone-split.js');
  const clusters = await startBenchClusters();
  opts.onVersion?.(clusters.version);
  const workDir = await mkdtemp(join(tmpdir(), 'cps-bench-schema-'));
  const results: SchemaSizeResult[] = [];
  try {
    await createDatabases(clusters.source.url, ['bench_journal_cost']);
    const journal = await journalCost(withDatabase(clusters.source.url, 'bench_journal_cost'), 1000, 50);
    opts.log(`journal: ${journal.perStepMs.toFixed(2)} ms per step one at a time, ${journal.batchedMs.toFixed(2)} ms per step in batches of ${journal.batch}`);
    for (const tables of opts.sizes) {
      await resetDatabases(clusters.source.url, [SOURCE]);
      await createDatabases(clusters.source.url, [SOURCE]);
      // In transactions of 500 tables: one transaction of thousands would run out of lock slots.
      for (let from = 1; from <= tables; from += 500) await sql(withDatabase(clusters.source.url, SOURCE), schemaSql(tables, from, Math.min(tables, from + 499)));
      const counts = (
        await sql<{ i: number; f: number }>(
          withDatabase(clusters.source.url, SOURCE),
          `SELECT (SELECT count(*)::int FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public') AS i,
                  (SELECT count(*)::int FROM pg_constraint WHERE contype = 'f') AS f`,
        )
      )[0]!;
      await sql(clusters.source.url, 'CHECKPOINT');
      const file = join(workDir, `split-${tables}.yaml`);
      await writeFile(file, manifest(tables));
      const result: SchemaSizeResult = { tables, indexes: counts.i, foreignKeys: counts.f, steps: 0, dumpMs: [], applyMs: [], runMs: [], kinds: [] };
      const runs = Array.isArray(opts.runs) ? (opts.runs[opts.sizes.indexOf(tables)] ?? opts.runs[0]!) : opts.runs;
      for (let run = 0; run < runs; run++) {
        const dump = await timeDump(clusters);
        result.dumpMs.push(dump);
        opts.log(`${tables} tables, run ${run + 1}: pg_dump -s | psql ${(dump / 1000).toFixed(1)} s`);
        const apply = await timeApply(clusters, cli, file, workDir);
        result.applyMs.push(apply.ms);
        result.runMs.push(apply.runMs);
        result.steps = apply.steps;
        result.kinds = apply.kinds;
        opts.log(`${tables} tables, run ${run + 1}: apply ${(apply.ms / 1000).toFixed(1)} s (${apply.steps} steps, ${(apply.runMs / 1000).toFixed(1)} s of them)`);
      }
      results.push(result);
    }
    return { sizes: results, journal };
  } finally {
    await clusters.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}

const s = (ms: number) => (ms / 1000).toFixed(1);

/** The table `npm run bench:schema` prints. */
export function renderSchemaReport({ sizes: results, journal }: SchemaBenchResult): string {
  const lines = [
    'schema-heavy: pg_dump -s | psql vs cloudphone-split apply --jobs 2 (plan included), no rows, median of the runs',
    'ms/step: apply / steps; steps s: first step start to last step end in the journal (the rest is planning and checks)',
    'tables  indexes  fks  steps  dump s (runs)            apply s (runs)           apply/dump  ms/step  ms/table  steps s',
  ];
  for (const r of results) {
    const d = median(r.dumpMs);
    const a = median(r.applyMs);
    lines.push(
      [
        String(r.tables).padStart(6),
        String(r.indexes).padStart(8),
        String(r.foreignKeys).padStart(4),
        String(r.steps).padStart(6),
        `${s(d)} (${r.dumpMs.map(s).join(' ')})`.padEnd(24),
        `${s(a)} (${r.applyMs.map(s).join(' ')})`.padEnd(24),
        (a / d).toFixed(2).padStart(10),
        (a / Math.max(1, r.steps)).toFixed(2).padStart(8),
        (a / r.tables).toFixed(2).padStart(9),
        s(median(r.runMs)).padStart(7),
      ].join('  '),
    );
  }
  for (const r of results) {
    lines.push(`  ${r.tables} tables, last apply, each step kind: count, time of its steps (a batch once) added up / window from first start to last end: ${r.kinds.map((k) => `${k.kind} ${k.count}× ${s(k.sumMs)}/${s(k.windowMs)} s`).join(', ')}`);
  }
  lines.push(
    `journal writes (running, then done) per step, ${journal.steps} steps: ${journal.perStepMs.toFixed(2)} ms one step at a time, ${journal.batchedMs.toFixed(2)} ms in batches of ${journal.batch}`,
  );
  return `${lines.join('\n')}\n`;
}

/** The goal line of `npm run bench:schema` alone (`npm run bench` lists it with the other goals). */
function goalLine(results: readonly SchemaSizeResult[]): string {
  const one = results.find((r) => r.tables === 1000);
  if (!one) return 'goal: apply / pg_dump -s | psql at 1,000 tables ≤ 1.0: NOT MEASURED (no 1,000-table size)\n';
  const ratio = median(one.applyMs) / median(one.dumpMs);
  return `goal: apply / pg_dump -s | psql at 1,000 tables ≤ 1.0: ${ratio <= 1 ? 'PASS' : 'MISS'} (${ratio.toFixed(2)})\n`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      tables: { type: 'string', default: '250,1000,4000' },
      runs: { type: 'string', default: '3' },
      json: { type: 'boolean', default: false },
    },
  });
  const sizes = parseSizes(values.tables);
  const runs = values.runs.split(',').map((x) => Number(x.trim()));
  if (!sizes || runs.some((r) => !Number.isInteger(r) || r < 1) || (runs.length > 1 && runs.length !== sizes.length)) {
    process.stderr.write(`usage: npm run bench:schema -- [--tables 250,1000,4000] [--runs 3 | --runs 3,3,1] [--json]\n`);
    return 2;
  }
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const results = await runSchemaBench({ sizes, runs, repoRoot, log: (m) => process.stderr.write(`${m}\n`) });
  process.stdout.write(values.json ? `${JSON.stringify(results, null, 2)}\n` : `${renderSchemaReport(results)}${goalLine(results.sizes)}`);
  return 0;
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
