import { expect } from 'vitest';
import pg from 'pg';
import { query } from '../../harness/servers.js';
import { PAUSE_LOCK_SPACE, TEST_PAUSE_ENV } from '../../../src/engine/test-pause.js';
import { spawnCli, type SpawnedCli } from './cli.js';
import { readPlanFile } from '../../../src/plan/plan-file.js';
import type { Step } from '../../../src/plan/model.js';

export interface PausedRun {
  run: SpawnedCli;
  /** Lets the run go on (and ends the session holding its pause). */
  release(): Promise<void>;
}

/**
 * Spawns the CLI with a pause right before `step` (its pause lock held by a session of
 * this test), and returns once the run waits there: a session of the tool in `sourceDb`
 * waits for that very lock (other test files pause their own runs on the same server).
 */
export async function pausedBefore(opts: { sourceUrl: string; sourceServer: string; sourceDb: string; step: string; args: string[]; env: NodeJS.ProcessEnv }): Promise<PausedRun> {
  const holder = new pg.Client({ connectionString: opts.sourceUrl });
  holder.on('error', () => undefined);
  await holder.connect();
  await holder.query('SELECT pg_advisory_lock($1, hashtext($2))', [PAUSE_LOCK_SPACE, opts.step]);
  const run = spawnCli(opts.args, { ...opts.env, [TEST_PAUSE_ENV]: `before:${opts.step}` });
  const waiting = async () =>
    (
      await query<{ n: number }>(
        opts.sourceServer,
        `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND NOT l.granted AND l.classid = $1::int::oid AND l.objid = (hashtext($3)::bigint & 4294967295)::oid
            AND a.datname = $2 AND a.application_name LIKE 'cloudphone-split%'`,
        [PAUSE_LOCK_SPACE, opts.sourceDb, opts.step],
      )
    )[0]!.n;
  try {
    await expect.poll(waiting, { timeout: 30_000, interval: 50, message: `the run never reached ${opts.step}: ${run.output().stderr}` }).toBe(1);
  } catch (err) {
    run.child.kill('SIGKILL');
    await holder.end().catch(() => undefined);
    throw err;
  }
  return {
    run,
    async release() {
      await holder.end().catch(() => undefined);
    },
  };
}

/** The id of the first step of `kind` in a plan file: where a test pauses a run. */
export async function stepOf(planFile: string, kind: Step['kind']): Promise<string> {
  const step = (await readPlanFile(planFile)).steps.find((s) => s.kind === kind);
  if (!step) throw new Error(`${planFile} has no ${kind} step`);
  return step.id;
}
