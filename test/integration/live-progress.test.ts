import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servers, query, uniquePrefix, createDatabase, withDatabase } from '../harness/servers.js';
import { Journal } from '../../src/engine/journal.js';
import { runPlan } from '../../src/engine/executor.js';
import { Pools } from '../../src/pg/pools.js';
import { SplitLock } from '../../src/engine/lock.js';
import type { StatusReport } from '../../src/cli/commands/status.js';
import { toyHandlers, toyPlan } from '../unit/engine/toy-plan.js';
import { assertBuilt, runSpawned, spawnCli } from './helpers/cli.js';

/**
 * Live progress: while a copy runs, its rows and bytes so far are in the journal, where
 * `status` run by another process reads them. The copy here is a toy step that reports
 * progress and then waits for the test, so what is read mid-copy is known exactly.
 */
const prefix = uniquePrefix();
let sourceUrl: string;
let controlUrl: string;
let journal: Journal;
let pools: Pools;
let manifest: string;

beforeAll(async () => {
  assertBuilt();
  sourceUrl = await createDatabase(servers().main, `${prefix}src`);
  controlUrl = withDatabase(servers().main, `${prefix}control`);
  journal = await Journal.open(controlUrl);
  pools = new Pools({ source: sourceUrl }, 4);
  const dir = await mkdtemp(join(tmpdir(), 'cps-live-'));
  manifest = join(dir, 'split.yaml');
  await writeFile(
    manifest,
    ['version: 1', 'name: live', 'source:', '  url: ${SRC_URL}', 'control:', '  url: ${CTRL_URL}', 'services:', '  a:', `    database: ${prefix}a`, '    tables: []', ''].join('\n'),
  );
});
afterAll(async () => {
  await pools?.end();
  await journal?.close();
  await query(servers().main, `DROP DATABASE IF EXISTS "${prefix}src" WITH (FORCE)`);
  await query(servers().main, `DROP DATABASE IF EXISTS "${prefix}control" WITH (FORCE)`);
});

async function journalCounts(stepId: string): Promise<{ state: string; rows: string | null; bytes: string | null } | undefined> {
  const [row] = await query<{ state: string; rows: string | null; bytes: string | null }>(
    controlUrl,
    `SELECT s.state, s.rows, s.bytes FROM cloudphone_split.steps s JOIN cloudphone_split.runs r ON r.id = s.run_id
      WHERE r.split = 'live' AND s.step_id = $1 ORDER BY r.id DESC LIMIT 1`,
    [stepId],
  );
  return row;
}

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (let i = 0; i < 2400; i++) {
    const v = await read();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('live progress', () => {
  it('a running copy shows its rows, bytes, rate and time left to `status --json` in another process; its final counts win', async () => {
    const plan = toyPlan('live', [
      { id: 'pre', kind: 'preflight' },
      { id: 'copy:a:public.big', kind: 'copy_data', dependsOn: ['pre'], service: 'a', table: 'public.big', bytes: 100_000 },
    ]);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const handlers = toyHandlers(async (ctx, step) => {
      if (step.kind !== 'copy_data') return {};
      ctx.progress.emit({ type: 'step-progress', stepId: step.id, rows: 1234, bytes: 25_000 });
      await gate;
      return { rows: 5000, bytes: 100_000 };
    });
    // The split's lock, as apply holds it while its process lives.
    const lock = await SplitLock.acquire(controlUrl, 'live');
    const run = runPlan({
      plan,
      handlers,
      pools,
      journal,
      jobs: 2,
      env: {},
      baseDir: '.',
      progress: { emit: () => undefined },
      signal: new AbortController().signal,
      snapshot: async () => 'none',
      liveProgressMs: 50,
    });
    try {
      await until('the counters in the journal', () => journalCounts('copy:a:public.big'), (r) => r?.rows === '1234');
      const env = { PATH: process.env.PATH, SRC_URL: sourceUrl, CTRL_URL: controlUrl, NO_COLOR: '1' };
      const r = await runSpawned(['status', '--json', '-m', manifest], env);
      expect(r.code, r.stderr).toBe(0);
      const status = JSON.parse(r.stdout) as StatusReport;
      const copy = status.runs[0]!.steps.find((s) => s.id === 'copy:a:public.big')!;
      expect(copy).toMatchObject({ state: 'running', rows: 1234, bytes: 25_000, bytesEstimate: 100_000 });
      expect(copy.bytesPerSecond).toBeGreaterThan(0);
      expect(copy.etaSeconds).toBeGreaterThanOrEqual(0);

      const text = await runSpawned(['status', '-m', manifest], env);
      expect(text.stdout).toMatch(/running +copy:a:public\.big +\(1234 rows, 24\.4 KiB, [\d.]+ [KMG]?i?B\/s, ETA \d+ s\)/);

      // Its process gone (nobody holds the lock): the last counts stay, without a rate or a time left, which nothing makes any more.
      await lock.release();
      const dead = JSON.parse((await runSpawned(['status', '--json', '-m', manifest], env)).stdout) as StatusReport & { abandoned?: true };
      expect(dead.abandoned).toBe(true);
      const stale = dead.runs[0]!.steps.find((s) => s.id === 'copy:a:public.big')!;
      expect(stale).toMatchObject({ state: 'running', rows: 1234, bytes: 25_000 });
      expect(stale.bytesPerSecond).toBeUndefined();
      expect(stale.etaSeconds).toBeUndefined();
      expect((await runSpawned(['status', '-m', manifest], env)).stdout).toMatch(/running +copy:a:public\.big +\(1234 rows, 24\.4 KiB\)/);
    } finally {
      release();
      await run;
      await lock.release();
    }
    // A progress write that lands after the step ended changes nothing.
    const runs = await journal.status('live');
    await journal.stepProgress(runs.runs[0]!.id, 'copy:a:public.big', 1, 1);
    expect(await journalCounts('copy:a:public.big')).toEqual({ state: 'done', rows: '5000', bytes: '100000' });
  });

  it('status --watch --json follows the run until it ends, one document per frame', async () => {
    const plan = toyPlan('live', [
      { id: 'pre', kind: 'preflight' },
      { id: 'copy:a:public.other', kind: 'copy_data', dependsOn: ['pre'], service: 'a', table: 'public.other', bytes: 10 },
    ]);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const handlers = toyHandlers(async (_ctx, step) => {
      if (step.kind === 'copy_data') await gate;
      return {};
    });
    // The split's lock, as apply holds it: what tells status a run that runs from one whose process is gone.
    const lock = await SplitLock.acquire(controlUrl, 'live');
    const run = runPlan({
      plan, handlers, pools, journal, jobs: 1, env: {}, baseDir: '.', progress: { emit: () => undefined },
      signal: new AbortController().signal, snapshot: async () => 'none', liveProgressMs: 50,
    });
    await until('the copy to start', () => journalCounts('copy:a:public.other'), (r) => r?.state === 'running');
    const env = { PATH: process.env.PATH, SRC_URL: sourceUrl, CTRL_URL: controlUrl, NO_COLOR: '1' };
    const watching = spawnCli(['status', '--watch', '0.2', '--json', '-m', manifest], env);
    try {
      // The run ends only once the watcher has drawn a frame of it running.
      await until('a first frame', async () => watching.output().stdout, (out) => out.includes('"state": "running"'));
    } finally {
      release();
      await run;
      await lock.release();
    }
    const r = await watching.done;
    expect(r.code, r.stderr).toBe(0);
    const frames = r.stdout.split(/\n(?=\{)/).map((d) => JSON.parse(d) as StatusReport);
    expect(frames.length).toBeGreaterThanOrEqual(2);
    expect(frames[0]!.runs[0]!.state).toBe('running');
    expect(frames.at(-1)!.runs[0]!.state).toBe('succeeded');
  });

  it('status --watch ends, saying so, when no process runs the run any more (a killed apply: nobody holds the lock)', async () => {
    const plan = toyPlan('live', [
      { id: 'pre', kind: 'preflight' },
      { id: 'copy:a:public.gone', kind: 'copy_data', dependsOn: ['pre'], service: 'a', table: 'public.gone', bytes: 10 },
    ]);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const handlers = toyHandlers(async (_ctx, step) => {
      if (step.kind === 'copy_data') await gate;
      return {};
    });
    // Running in the journal, without the lock apply would hold: as a run whose process was killed looks.
    const run = runPlan({
      plan, handlers, pools, journal, jobs: 1, env: {}, baseDir: '.', progress: { emit: () => undefined },
      signal: new AbortController().signal, snapshot: async () => 'none', liveProgressMs: 50,
    });
    try {
      await until('the copy to start', () => journalCounts('copy:a:public.gone'), (r) => r?.state === 'running');
      const env = { PATH: process.env.PATH, SRC_URL: sourceUrl, CTRL_URL: controlUrl, NO_COLOR: '1' };
      const watched = await spawnCli(['status', '--watch', '0.2', '-m', manifest], env).done;
      expect(watched.code, watched.stderr).toBe(0);
      expect(watched.stdout).toContain('no process runs it any more (killed, or it lost its connection): run the same command again to resume where it stopped');
    } finally {
      release();
      await run;
    }
  });
});
