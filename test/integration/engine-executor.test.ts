import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servers, query, uniquePrefix, createDatabase, withDatabase } from '../harness/servers.js';
import { Journal } from '../../src/engine/journal.js';
import { runPlan, type RunPlanOptions } from '../../src/engine/executor.js';
import { Pools } from '../../src/pg/pools.js';
import { BadInputError, ExitCode, InterruptedError, ServerError, StepFailedError } from '../../src/errors.js';
import { SplitLock } from '../../src/engine/lock.js';
import type { Plan, Step } from '../../src/plan/model.js';
import type { ProgressEvent, StepContext, StepResult } from '../../src/steps/handler.js';
import { toyHandlers, toyPlan } from '../unit/engine/toy-plan.js';

const prefix = uniquePrefix();
let dataUrl: string;
let controlUrl: string;
let journal: Journal;
let pools: Pools;

interface LogRow {
  step_id: string;
  started: Date;
  finished: Date | null;
  journal_state: string;
}

beforeAll(async () => {
  dataUrl = await createDatabase(servers().main, `${prefix}data`);
  controlUrl = withDatabase(servers().main, `${prefix}control`);
  await query(dataUrl, `CREATE TABLE log (split text, step_id text, started timestamptz, finished timestamptz, journal_state text)`);
  journal = await Journal.open(controlUrl);
  pools = new Pools({ source: dataUrl }, 6);
});
afterAll(async () => {
  await pools?.end();
  await journal?.close();
  await query(servers().main, `DROP DATABASE IF EXISTS "${prefix}data" WITH (FORCE)`);
  await query(servers().main, `DROP DATABASE IF EXISTS "${prefix}control" WITH (FORCE)`);
});

interface Behaviour {
  sleepMs?: number;
  fail?: (step: Step) => string | undefined;
  before?: (ctx: StepContext, step: Step) => Promise<void> | void;
}

/** Toy handlers doing real SQL: each step logs itself (and the journal's view of it while it runs) in the data database. */
function handlersFor(b: Behaviour = {}) {
  const concurrency = { now: 0, max: 0 };
  const handlers = toyHandlers(async (ctx, step): Promise<StepResult> => {
    concurrency.now++;
    concurrency.max = Math.max(concurrency.max, concurrency.now);
    try {
      await b.before?.(ctx, step);
      const message = b.fail?.(step);
      if (message) throw new Error(message);
      const pool = ctx.pools.pool('source');
      const [state] = await query<{ state: string }>(
        controlUrl,
        `SELECT s.state FROM cloudphone_split.steps s JOIN cloudphone_split.runs r ON r.id = s.run_id
          WHERE r.split = $1 AND r.state = 'running' AND s.step_id = $2`,
        [ctx.plan.name, step.id],
      );
      await pool.query(`INSERT INTO log VALUES ($1, $2, clock_timestamp(), NULL, $3)`, [ctx.plan.name, step.id, state?.state ?? 'none']);
      await pool.query(`SELECT pg_sleep($1)`, [(b.sleepMs ?? 0) / 1000]);
      await pool.query(`UPDATE log SET finished = clock_timestamp() WHERE split = $1 AND step_id = $2`, [ctx.plan.name, step.id]);
      return { rows: step.id.length, bytes: 100, detail: { step: step.id } };
    } finally {
      concurrency.now--;
    }
  });
  return { handlers, concurrency };
}

function options(plan: Plan, handlers: RunPlanOptions['handlers'], extra: Partial<RunPlanOptions> = {}) {
  const events: ProgressEvent[] = [];
  const opts: RunPlanOptions = {
    plan,
    handlers,
    pools,
    journal,
    jobs: 2,
    env: {},
    baseDir: '.',
    progress: { emit: (e) => events.push(e) },
    signal: new AbortController().signal,
    snapshot: async () => 'no-snapshot',
    ...extra,
  };
  return { opts, events };
}

async function logOf(split: string): Promise<LogRow[]> {
  return query<LogRow>(dataUrl, `SELECT step_id, started, finished, journal_state FROM log WHERE split = $1 ORDER BY started`, [split]);
}

const graph = [
  { id: 'pre', kind: 'preflight' as const },
  { id: 'copy-small', kind: 'copy_data' as const, bytes: 10, dependsOn: ['pre'], service: 'a', table: 'public.small' },
  { id: 'copy-big', kind: 'copy_data' as const, bytes: 1000, dependsOn: ['pre'], service: 'b', table: 'public.big' },
  { id: 'idx-small', kind: 'create_indexes' as const, dependsOn: ['copy-small'] },
  { id: 'idx-big', kind: 'create_indexes' as const, dependsOn: ['copy-big'] },
  { id: 'final', kind: 'schedule_retention' as const, dependsOn: ['idx-small', 'idx-big'] },
];

describe('runPlan', () => {
  it('runs every step after its dependencies, independent ones in parallel, recorded before and after', async () => {
    const plan = toyPlan('parallel', graph);
    const { handlers, concurrency } = handlersFor({ sleepMs: 300 });
    const { opts, events } = options(plan, handlers);
    const summary = await runPlan(opts);
    expect(summary).toMatchObject({ name: 'parallel', resumed: false, ran: 6, skipped: 0 });

    const log = await logOf('parallel');
    expect(log.map((r) => r.step_id).sort()).toEqual(graph.map((s) => s.id).sort());
    const byId = new Map(log.map((r) => [r.step_id, r]));
    for (const step of graph) {
      for (const dep of step.dependsOn ?? []) {
        expect(byId.get(dep)!.finished!.getTime(), `${dep} before ${step.id}`).toBeLessThanOrEqual(byId.get(step.id)!.started.getTime());
      }
    }
    const big = byId.get('copy-big')!;
    const small = byId.get('copy-small')!;
    expect(big.started < small.finished! && small.started < big.finished!).toBe(true);
    expect(concurrency.max).toBe(2);
    // Recorded as running in the journal before the handler did its work...
    expect(log.every((r) => r.journal_state === 'running')).toBe(true);
    // ...and done with its result after.
    const status = await journal.status('parallel');
    expect(status.runs[0]).toMatchObject({ id: summary.runId, state: 'succeeded' });
    expect(status.runs[0]!.steps.map((s) => s.id)).toEqual(graph.map((s) => s.id));
    expect(status.runs[0]!.steps.every((s) => s.state === 'done' && s.bytes === 100 && s.rows === s.id.length)).toBe(true);
    expect(await journal.result('parallel', 'copy-big')).toEqual({ rows: 8, bytes: 100, detail: { step: 'copy-big' } });

    const starts = events.filter((e) => e.type === 'step-start').map((e) => (e as { stepId: string }).stepId);
    const dones = events.filter((e) => e.type === 'step-done').map((e) => (e as { stepId: string }).stepId);
    expect(starts.sort()).toEqual(graph.map((s) => s.id).sort());
    expect(dones.sort()).toEqual(graph.map((s) => s.id).sort());
  });

  it('with one job, takes the largest ready copy first, otherwise plan order', async () => {
    const plan = toyPlan('order', graph);
    const { handlers, concurrency } = handlersFor();
    const { opts } = options(plan, handlers, { jobs: 1 });
    await runPlan(opts);
    expect(concurrency.max).toBe(1);
    expect((await logOf('order')).map((r) => r.step_id)).toEqual(['pre', 'copy-big', 'copy-small', 'idx-small', 'idx-big', 'final']);
  });

  it('stops at a failed step, and the next run resumes without re-running done steps', async () => {
    const steps = ['s1', 's2', 's3', 's4', 's5'].map((id, i, all) => ({ id, dependsOn: i > 0 ? [all[i - 1]!] : [] }));
    const plan = toyPlan('resume', steps);
    const failing = handlersFor({ fail: (s) => (s.id === 's3' ? 'disk full on target' : undefined) });
    const first = options(plan, failing.handlers);
    const err = await runPlan(first.opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepFailedError);
    expect((err as StepFailedError).stepId).toBe('s3');
    expect((err as StepFailedError).exitCode).toBe(ExitCode.stepFailed);
    expect((err as StepFailedError).message).toContain('disk full on target');
    expect(first.events).toContainEqual({ type: 'step-failed', stepId: 's3', error: 'disk full on target' });

    let status = await journal.status('resume');
    expect(status.runs[0]).toMatchObject({ state: 'failed', error: 'step s3 failed: disk full on target' });
    expect(status.runs[0]!.steps.map((s) => s.state)).toEqual(['done', 'done', 'failed', 'pending', 'pending']);
    expect((await logOf('resume')).map((r) => r.step_id)).toEqual(['s1', 's2']);

    const second = options(plan, handlersFor().handlers);
    const summary = await runPlan(second.opts);
    expect(summary).toMatchObject({ runId: status.runs[0]!.id, resumed: true, ran: 3, skipped: 2 });
    expect(summary.steps.map((s) => [s.id, s.state])).toEqual([
      ['s1', 'skipped'],
      ['s2', 'skipped'],
      ['s3', 'done'],
      ['s4', 'done'],
      ['s5', 'done'],
    ]);
    expect((await logOf('resume')).map((r) => r.step_id)).toEqual(['s1', 's2', 's3', 's4', 's5']);
    status = await journal.status('resume');
    expect(status.runs).toHaveLength(1);
    expect(status.runs[0]).toMatchObject({ state: 'succeeded' });
    expect(status.runs[0]!.steps.every((s) => s.state === 'done' && s.error === undefined)).toBe(true);

    // Applying a finished plan again runs nothing.
    const third = options(plan, handlersFor().handlers);
    const rerun = await runPlan(third.opts);
    expect(rerun).toMatchObject({ ran: 0, skipped: 5 });
    expect(rerun.runId).toBeGreaterThan(summary.runId);
    expect(await logOf('resume')).toHaveLength(5);
    const latest = (await journal.status('resume')).runs[0]!;
    expect(latest).toMatchObject({ id: rerun.runId, state: 'succeeded' });
    expect(latest.steps.every((s) => s.state === 'skipped')).toBe(true);
  });

  it('after a failure lets running steps finish but starts no new one', async () => {
    const plan = toyPlan('drain', [{ id: 'fast-fail' }, { id: 'slow' }, { id: 'later' }]);
    const { handlers } = handlersFor({ sleepMs: 400, fail: (s) => (s.id === 'fast-fail' ? 'nope' : undefined) });
    const { opts } = options(plan, handlers);
    await expect(runPlan(opts)).rejects.toBeInstanceOf(StepFailedError);
    const steps = (await journal.status('drain')).runs[0]!.steps;
    expect(steps.map((s) => [s.id, s.state])).toEqual([
      ['fast-fail', 'failed'],
      ['slow', 'done'],
      ['later', 'pending'],
    ]);
  });

  it('refuses to resume an unfinished run with a changed plan, running nothing', async () => {
    const plan = toyPlan('changed', [{ id: 'one' }, { id: 'two', dependsOn: ['one'] }]);
    const failing = handlersFor({ fail: (s) => (s.id === 'two' ? 'stop here' : undefined) });
    await expect(runPlan(options(plan, failing.handlers).opts)).rejects.toBeInstanceOf(StepFailedError);
    const changed = toyPlan('changed', [{ id: 'one' }, { id: 'two', dependsOn: ['one'] }, { id: 'three' }]);
    const err = await runPlan(options(changed, handlersFor().handlers).opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as Error).message).toContain('refusing to resume with a different plan');
    expect((await logOf('changed')).map((r) => r.step_id)).toEqual(['one']);
  });

  it('tells to rerun the command of the failed step\'s phase: cutover for a cutover step (the source stays fenced), rollback for a reverse one', async () => {
    for (const [phase, command] of [['cutover', 'cutover'], ['reverse', 'rollback']] as const) {
      const base = toyPlan(`phase-${phase}`, [{ id: 'first' }, { id: 'second', dependsOn: ['first'] }]);
      const plan = { ...base, steps: base.steps.map((s) => ({ ...s, phase })) };
      const failing = handlersFor({ fail: (s) => (s.id === 'second' ? 'no' : undefined) });
      const err = await runPlan(options(plan, failing.handlers).opts).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StepFailedError);
      expect((err as StepFailedError).hint, phase).toContain(`rerun \`cloudphone-split ${command}\` to resume where it stopped`);
    }
  });

  it('on abort starts nothing new, records the run interrupted, and resumes later', async () => {
    const plan = toyPlan('abort', [{ id: 'i1' }, { id: 'i2', dependsOn: ['i1'] }, { id: 'i3', dependsOn: ['i2'] }]);
    const controller = new AbortController();
    const { handlers } = handlersFor({
      sleepMs: 100,
      before: (_ctx, step) => {
        if (step.id === 'i2') controller.abort();
      },
    });
    const { opts } = options(plan, handlers, { signal: controller.signal });
    const err = await runPlan(opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect((err as InterruptedError).exitCode).toBe(3);
    expect((err as Error).message).toBe('interrupted; rerun apply to resume');
    const status = await journal.status('abort');
    expect(status.runs[0]).toMatchObject({ state: 'interrupted' });
    expect(status.runs[0]!.steps.map((s) => s.state)).toEqual(['done', 'done', 'pending']);

    const summary = await runPlan(options(plan, handlersFor().handlers).opts);
    expect(summary).toMatchObject({ resumed: true, ran: 1, skipped: 2 });
    expect((await logOf('abort')).map((r) => r.step_id)).toEqual(['i1', 'i2', 'i3']);
  });

  it('records a step cut short by the abort as interrupted and runs it again next time', async () => {
    const plan = toyPlan('cut', [{ id: 'long' }]);
    const controller = new AbortController();
    const { handlers } = handlersFor({
      before: (ctx) =>
        new Promise<void>((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => reject(new Error('copy cancelled')), { once: true });
          setTimeout(() => controller.abort(), 50);
        }),
    });
    await expect(runPlan(options(plan, handlers, { signal: controller.signal }).opts)).rejects.toBeInstanceOf(InterruptedError);
    const step = (await journal.status('cut')).runs[0]!.steps[0]!;
    expect(step).toMatchObject({ state: 'failed', error: 'interrupted: copy cancelled' });
    await runPlan(options(plan, handlersFor().handlers).opts);
    expect((await logOf('cut')).map((r) => r.step_id)).toEqual(['long']);
  });

  it('stops starting steps when the lock it was given is lost', async () => {
    const plan = toyPlan('lost-lock', [{ id: 'l1' }, { id: 'l2', dependsOn: ['l1'] }]);
    const lock = await SplitLock.acquire(controlUrl, 'lost-lock', 'cloudphone-split apply lost-lock');
    const { handlers } = handlersFor({
      before: async (_ctx, step) => {
        if (step.id !== 'l1') return;
        await query(controlUrl, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'cloudphone-split apply lost-lock'`);
        for (let i = 0; i < 50 && lock.held; i++) await new Promise((r) => setTimeout(r, 20));
      },
    });
    try {
      const err = await runPlan(options(plan, handlers, { lock }).opts).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ServerError);
      expect((err as Error).message).toMatch(/lost the lock of split "lost-lock"/);
      const run = (await journal.status('lost-lock')).runs[0]!;
      expect(run.state).toBe('failed');
      expect(run.steps.map((s) => s.state)).toEqual(['done', 'pending']);
    } finally {
      await lock.release();
    }
  });

  it('never stores or throws a secret from the environment', async () => {
    const password = 's3cr3t-Pa55';
    const env = { SRC_URL: `postgres://app:${password}@db.internal/core`, BILLING_PASSWORD: 'hunter2-billing' };
    const plan = toyPlan('secrets', [{ id: 'leaky' }], 'name: secrets\nsource:\n  url: ${SRC_URL}\n  password: ${BILLING_PASSWORD}\n');
    const { handlers } = handlersFor({ fail: () => `could not connect to ${env.SRC_URL} as app/${password} with hunter2-billing` });
    const err = await runPlan(options(plan, handlers, { env }).opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepFailedError);
    const text = `${(err as Error).message} ${JSON.stringify(await journal.status('secrets'))}`;
    expect(text).toContain('***');
    expect(text).not.toContain(password);
    expect(text).not.toContain('hunter2-billing');
  });

  it('rejects a plan whose dependencies cannot be satisfied, before recording anything', async () => {
    const plan = toyPlan('badgraph', [{ id: 'x', dependsOn: ['y'] }, { id: 'y' }]);
    await expect(runPlan(options(plan, handlersFor().handlers).opts)).rejects.toThrow(/depends on y, which comes after it/);
    await expect(runPlan(options(toyPlan('badgraph', [{ id: 'x' }]), handlersFor().handlers, { jobs: 0 }).opts)).rejects.toThrow(/--jobs/);
    expect((await journal.status('badgraph')).runs).toEqual([]);
  });
});
