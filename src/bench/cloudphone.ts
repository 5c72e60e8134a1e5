import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createDatabases, resetDatabases, sql, withDatabase } from './bench-clusters.js';
import type { BenchContext, Contender, Phases, StepTimes } from './contender.js';
import { cpuClusters, measureCpu } from './cpu.js';
import { benchManifest } from './dataset.js';
import { runCommand } from './shell.js';
import { tablePhases } from './table-phases.js';

/** The fresh copy of the source each run of our tool reads (apply fences and retires its source). */
export const FENCED_SOURCE = 'bench_src_apply';
export const CONTROL_DATABASE = 'bench_control';

function env(ctx: BenchContext): NodeJS.ProcessEnv {
  return {
    BENCH_SOURCE_URL: withDatabase(ctx.clusters.source.url, FENCED_SOURCE),
    BENCH_TARGET_URL: ctx.clusters.target.url,
    BENCH_CONTROL_URL: withDatabase(ctx.clusters.source.url, CONTROL_DATABASE),
    NO_COLOR: '1',
  };
}

/** Wall-clock windows of the step kinds in the journal's latest run of split `bench`. */
async function journalPhases(ctx: BenchContext, total: number): Promise<Phases> {
  const rows = await sql<{ kind: string; ms: string | null }>(
    withDatabase(ctx.clusters.source.url, CONTROL_DATABASE),
    `SELECT split_part(step_id, ':', 1) AS kind,
            (extract(epoch FROM max(finished_at) - min(started_at)) * 1000)::text AS ms
       FROM cloudphone_split.steps
      WHERE run_id = ${LATEST_RUN}
      GROUP BY 1`,
  );
  const ms = (kinds: string[]) => {
    const found = rows.filter((r) => kinds.includes(r.kind) && r.ms !== null).map((r) => Number(r.ms));
    return found.length ? Math.max(...found) : null;
  };
  return { schema: ms(['create_schema']), data: ms(['copy_data']), indexes: ms(['create_indexes']), total };
}

const LATEST_RUN = `(SELECT max(id) FROM cloudphone_split.runs WHERE split = 'bench')`;

/** Every step kind's count, summed duration and window, and each copy of `largest`, from the journal's latest run. */
async function stepTimes(ctx: BenchContext, largest: string): Promise<StepTimes> {
  const url = withDatabase(ctx.clusters.source.url, CONTROL_DATABASE);
  const kinds = await sql<{ kind: string; n: number; sum_ms: string; window_ms: string }>(
    url,
    `SELECT kind, count(*)::int AS n,
            (extract(epoch FROM sum(finished_at - started_at)) * 1000)::text AS sum_ms,
            (extract(epoch FROM max(finished_at) - min(started_at)) * 1000)::text AS window_ms
       FROM cloudphone_split.steps
      WHERE run_id = ${LATEST_RUN} AND finished_at IS NOT NULL
      GROUP BY kind ORDER BY min(started_at)`,
  );
  const copies = await sql<{ step_id: string; ms: string; rows: string | null; binary: boolean | null }>(
    url,
    `SELECT step_id, (extract(epoch FROM finished_at - started_at) * 1000)::text AS ms, rows::text AS rows, (detail->>'binary')::boolean AS binary
       FROM cloudphone_split.steps
      WHERE run_id = ${LATEST_RUN} AND kind = 'copy_data' AND "table" = $1 AND finished_at IS NOT NULL
      ORDER BY step_id`,
    [largest],
  );
  return {
    kinds: kinds.map((k) => ({ kind: k.kind, count: k.n, sumMs: Number(k.sum_ms), windowMs: Number(k.window_ms) })),
    largest: copies.map((c) => ({ step: c.step_id, ms: Number(c.ms), rows: c.rows === null ? null : Number(c.rows), binary: c.binary })),
  };
}

/**
 * (e) `cloudphone-split apply --jobs N` (the built CLI, as a child process, with its defaults: the
 * target server's own parallel index workers and maintenance_work_mem), then `verify --checksums`.
 */
export const cloudphoneSplit: Contender = {
  key: 'e',
  name: 'cloudphone-split apply --jobs 2',
  async unavailable() {
    return null;
  },
  async prepare(ctx) {
    const src = ctx.clusters.source.url;
    await resetDatabases(src, [FENCED_SOURCE, CONTROL_DATABASE]);
    await sql(src, `CREATE DATABASE ${FENCED_SOURCE} TEMPLATE ${ctx.dataset.database} STRATEGY FILE_COPY`);
    await createDatabases(src, [CONTROL_DATABASE]);
    await writeFile(join(ctx.workDir, 'split.yaml'), benchManifest(ctx.dataset));
  },
  async run(ctx) {
    const cli = join(ctx.repoRoot, 'bin', 'cloudphone-split.js');
    const manifest = join(ctx.workDir, 'split.yaml');
    const { result: apply, cpu } = await measureCpu(cpus().length, () =>
      runCommand(cli, ['apply', '-m', manifest, '--yes', '--jobs', String(ctx.jobs), '--json', '--no-color'], {
        env: env(ctx),
        cwd: ctx.workDir,
        measureRss: true,
      }),
      cpuClusters(ctx),
    );
    const phases = await journalPhases(ctx, apply.ms);
    const steps = await stepTimes(ctx, 'public.events');
    const tables = await tablePhases(withDatabase(ctx.clusters.source.url, CONTROL_DATABASE), 'bench');
    const { result: verify, cpu: verifyCpu } = await measureCpu(cpus().length, () =>
      runCommand(cli, ['verify', '-m', manifest, '--checksums', '--jobs', String(ctx.jobs), '--json', '--no-color'], {
        env: env(ctx),
        cwd: ctx.workDir,
        measureRss: true,
        check: false,
      }),
      cpuClusters(ctx),
    );
    const notes: string[] = [];
    if (verify.code !== 0) notes.push(`verify exited ${verify.code}: ${(verify.stderr || verify.stdout).slice(0, 2000)}`);
    return { phases, peakRssKb: apply.peakRssKb, cpu, notes, verify: { ms: verify.ms, ok: verify.code === 0, peakRssKb: verify.peakRssKb, cpu: verifyCpu }, steps, tables };
  },
};
