import { pauseForTest } from './test-pause.js';
import { brokenEnd, connectionLoss, describeEnd, isConnectionLoss } from '../pg/connection-loss.js';
import type { Plan, Step, StepKind } from '../plan/model.js';
import type { ProgressEvent, ProgressSink, StepContext, StepHandler, StepHandlers, StepResult } from '../steps/handler.js';
import type { Pools } from '../pg/pools.js';
import { BadInputError, InterruptedError, ServerError, StepFailedError } from '../errors.js';
import { scrubber } from '../secrets/scrubber.js';
import type { Journal, RunStart } from './journal.js';
import type { SplitLock } from './lock.js';
import { readySteps, stepGraphProblems } from './schedule.js';
import { planSecrets } from './plan-secrets.js';
import { LiveProgress } from './live-progress.js';

/** Everything a run needs; the plan is the only source of what runs (SPEC §2: a reviewed plan is exactly what runs). */
export interface RunPlanOptions {
  plan: Plan;
  handlers: StepHandlers;
  pools: Pools;
  journal: Journal;
  /** How many steps may run at once (≥ 1). */
  jobs: number;
  /** Parallel workers PostgreSQL may add to each index build (undefined: the server's setting). */
  indexWorkers?: number;
  /** How long catch_up waits for the subscriptions (undefined: its default). */
  catchUpTimeoutMs?: number;
  /** See StepContext.discardSourceWrites. */
  discardSourceWrites?: ReadonlySet<string>;
  env: NodeJS.ProcessEnv;
  baseDir: string;
  progress: ProgressSink;
  /** Aborted (Ctrl-C): no new step starts; running ones see it in their context. */
  signal: AbortSignal;
  now?: () => Date;
  /** The source snapshot every copy step reads from (see SnapshotHolder). */
  snapshot: () => Promise<string>;
  /**
   * The split's lock, held by the caller for the whole run (the caller takes it before
   * planning checks and releases it after). When given, the run stops starting steps
   * if the lock's session is lost.
   */
  lock?: SplitLock;
  /** Called once the journal records the run (before any step starts). */
  onStarted?: () => Promise<void>;
  /**
   * The steps this run executes (one phase of the plan: `apply` or `cutover`); default
   * all. The journal still records the whole plan, so a later run of the other phase
   * has the same plan hash and finds the steps done before it. A run succeeds when
   * every step it accepts is done.
   */
  only?: (step: Step) => boolean;
  /**
   * Steps outside `only` that the run's steps need not wait for: links that only order a
   * run of the whole plan (see plan/service-selection.ts). Default none.
   */
  waived?: ReadonlySet<string>;
  /** How often running steps' rows and bytes are written to the journal (default LIVE_PROGRESS_MS). */
  liveProgressMs?: number;
}

/** How one step ended in a successful run: `done` by this call, or `skipped` (already done before it). */
export interface StepOutcome {
  id: string;
  kind: StepKind;
  state: 'done' | 'skipped';
  ms: number;
  rows?: number;
  bytes?: number;
}

/** A finished run: every step of the plan is done (in this run or an earlier one). */
export interface RunSummary {
  name: string;
  runId: number;
  resumed: boolean;
  planHash: string;
  ms: number;
  /** Steps this call ran. */
  ran: number;
  /** Steps already done before this call (by an earlier run, or by the resumed run before it stopped). */
  skipped: number;
  /** In plan order. */
  steps: StepOutcome[];
}

function messageOf(err: unknown): string {
  // A handler's own StepFailedError already names the step: keep its reason only.
  if (err instanceof StepFailedError) return err.reason;
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

function handlerFor(handlers: StepHandlers, step: Step): StepHandler<StepKind> {
  // The record maps each kind to the handler of that kind, which TypeScript cannot
  // correlate with a union-typed step; the lookup by `step.kind` guarantees the match.
  const handler = handlers[step.kind] as StepHandler<StepKind> | undefined;
  if (!handler) throw new BadInputError(`step ${step.id} has an unknown kind "${step.kind}"`, 'the plan file was made by another version: plan again');
  return handler;
}

function checkOptions(opts: RunPlanOptions): void {
  if (!Number.isInteger(opts.jobs) || opts.jobs < 1) throw new BadInputError(`--jobs must be a whole number of at least 1, not ${opts.jobs}`);
  const problems = stepGraphProblems(opts.plan.steps);
  for (const step of opts.plan.steps) {
    if (!(step.kind in opts.handlers)) problems.push(`step ${step.id} has an unknown kind "${step.kind}"`);
  }
  if (problems.length > 0) {
    throw new BadInputError(`the plan cannot run:\n  ${problems.join('\n  ')}`, 'plan again from the manifest: plan files are not meant to be edited by hand');
  }
}

/**
 * Applies a plan: records the run in the journal (or resumes the split's unfinished
 * run of the same plan), skips steps already done, and runs the others as soon as
 * their dependencies are done, up to `jobs` at a time. Each step is written to the
 * journal as running before its handler starts and as done or failed after it ends.
 * The first failure stops new steps from starting; running ones finish, then the run
 * is marked failed and StepFailedError is thrown. An aborted `signal` does the same
 * and throws InterruptedError. Both exit 3: running apply again resumes.
 * The caller holds the split's SplitLock around the call: the journal assumes one writer per split.
 */
export async function runPlan(opts: RunPlanOptions): Promise<RunSummary> {
  checkOptions(opts);
  const { plan, journal, signal, lock } = opts;
  if (lock && lock.name !== plan.name) throw new Error(`the lock held is for split "${lock.name}", not "${plan.name}"`);
  const t0 = Date.now();
  const runnable = opts.only ? plan.steps.filter(opts.only) : plan.steps;
  for (const s of planSecrets(plan, opts.env)) scrubber.add(s);
  const clean = (text: string) => scrubber.scrub(text);
  const run = await journal.startRun(plan.name, plan);
  await opts.onStarted?.();
  const live = new LiveProgress(journal, run.runId, opts.liveProgressMs);
  // A renderer that throws must not stop the run.
  const emit = (event: ProgressEvent) => {
    live.see(event);
    try {
      // Messages carry what servers and commands said: scrubbed whatever the sink.
      if (event.type === 'log') opts.progress.emit({ ...event, message: clean(event.message) });
      else if (event.type === 'step-failed') opts.progress.emit({ ...event, error: clean(event.error) });
      else opts.progress.emit(event);
    } catch {
      // ignored
    }
  };

  const outcomes = new Map<string, StepOutcome>();
  const finished = new Set<string>();
  await skipDone(opts, run, outcomes, finished, emit);

  const ctx: StepContext = {
    plan,
    pools: opts.pools,
    env: opts.env,
    journal: journal.view(plan.name, run.planHash),
    snapshot: opts.snapshot,
    progress: { emit },
    signal,
    baseDir: opts.baseDir,
    now: opts.now ?? (() => new Date()),
    ...(opts.indexWorkers !== undefined ? { indexWorkers: opts.indexWorkers } : {}),
    ...(opts.catchUpTimeoutMs !== undefined ? { catchUpTimeoutMs: opts.catchUpTimeoutMs } : {}),
    ...(opts.discardSourceWrites ? { discardSourceWrites: opts.discardSourceWrites } : {}),
  };

  let failure: { stepId: string; message: string; cause: unknown } | undefined;
  let runError: Error | undefined;
  const active = new Map<string, Promise<void>>();
  /** Ids of the steps being run (a batch is one entry of `active`). */
  const running = new Set<string>();

  const runOne = async (step: Step): Promise<void> => {
    const started = Date.now();
    try {
      await journal.stepStarted(run.runId, step.id);
      emit({ type: 'step-start', stepId: step.id, kind: step.kind, service: step.service, table: step.table, description: step.description });
      await pauseForTest(opts.env, opts.pools, 'before', step.id);
      const result: StepResult = await handlerFor(opts.handlers, step).run(ctx, step);
      await pauseForTest(opts.env, opts.pools, 'after', step.id);
      await journal.stepDone(run.runId, step.id, result);
      const ms = Date.now() - started;
      const outcome: StepOutcome = { id: step.id, kind: step.kind, state: 'done', ms };
      if (result.rows !== undefined) outcome.rows = result.rows;
      if (result.bytes !== undefined) outcome.bytes = result.bytes;
      outcomes.set(step.id, outcome);
      finished.add(step.id);
      emit({ type: 'step-done', stepId: step.id, ms, rows: result.rows, bytes: result.bytes });
    } catch (caught) {
      const interrupted = signal.aborted && failure === undefined;
      // A lost connection says which server and database broke, whatever the step.
      const target = 'target' in step && step.target && typeof step.target === 'object' && 'server' in step.target ? step.target : null;
      // Which end: the one that does not answer now (a source restart broke a step whose target is elsewhere).
      const fallback: { server: string; database?: string } = target ?? { server: 'source' };
      const end = isConnectionLoss(caught) ? await brokenEnd(opts.pools, target).catch(() => fallback) : fallback;
      const err = connectionLoss(caught, describeEnd(opts.pools, end.server, end.database), `running ${step.id}`);
      const message = clean(messageOf(err));
      const recorded = interrupted ? `interrupted: ${message}` : message;
      await journal.stepFailed(run.runId, step.id, recorded).catch(() => undefined);
      emit({ type: 'step-failed', stepId: step.id, error: recorded });
      if (!interrupted) failure ??= { stepId: step.id, message, cause: err };
    }
  };

  const waived = opts.waived ?? new Set<string>();
  // What a step may start after: a finished step, or a waived one this run does not execute.
  const runnableIds = new Set(runnable.map((s) => s.id));
  const satisfied = { has: (id: string) => finished.has(id) || (waived.has(id) && !runnableIds.has(id)) };
  /**
   * Steps of one batch (src/steps/handler.ts, StepBatch): marked running together, run by
   * the handler's batch entry point, recorded done together in one journal write. When
   * the batch throws, each of its steps runs alone (runOne), so that a failure is the
   * failing step's own and the others still finish; once the run is stopping, the steps
   * not run go back to pending.
   */
  const runBatch = async (steps: Step[]): Promise<void> => {
    const started = Date.now();
    const ids = steps.map((s) => s.id);
    let results: StepResult[];
    try {
      await journal.stepsStarted(run.runId, ids);
      for (const step of steps) {
        emit({ type: 'step-start', stepId: step.id, kind: step.kind, service: step.service, table: step.table, description: step.description });
      }
      for (const step of steps) await pauseForTest(opts.env, opts.pools, 'before', step.id);
      results = await handlerFor(opts.handlers, steps[0]!).batch!.run(ctx, steps);
      if (results.length !== steps.length) throw new Error(`the batch of ${steps.length} ${steps[0]!.kind} steps returned ${results.length} results`);
      for (const step of steps) await pauseForTest(opts.env, opts.pools, 'after', step.id);
      await journal.stepsDone(run.runId, steps.map((s, i) => ({ stepId: s.id, result: results[i]! })));
    } catch {
      for (const [i, step] of steps.entries()) {
        if (failure !== undefined || runError !== undefined || signal.aborted) {
          await journal.stepsPending(run.runId, ids.slice(i)).catch(() => undefined);
          for (const left of steps.slice(i)) emit({ type: 'step-failed', stepId: left.id, error: 'not run: the run is stopping' });
          return;
        }
        await runOne(step);
      }
      return;
    }
    const ms = Date.now() - started;
    steps.forEach((step, i) => {
      const result = results[i]!;
      const outcome: StepOutcome = { id: step.id, kind: step.kind, state: 'done', ms };
      if (result.rows !== undefined) outcome.rows = result.rows;
      if (result.bytes !== undefined) outcome.bytes = result.bytes;
      outcomes.set(step.id, outcome);
      finished.add(step.id);
      emit({ type: 'step-done', stepId: step.id, ms, rows: result.rows, bytes: result.bytes });
    });
  };

  /** Ready steps grouped into what one job runs: a single step, or a batch of small steps of one kind and target. */
  const units = (ready: Step[], free: number): Step[][] => {
    const out: Step[][] = [];
    const taken = new Set<string>();
    for (const step of ready) {
      if (out.length >= free) break;
      if (taken.has(step.id)) continue;
      taken.add(step.id);
      const batch = handlerFor(opts.handlers, step).batch;
      if (!batch || !batch.accepts(step, plan)) {
        out.push([step]);
        continue;
      }
      const key = batch.key(step);
      const mates = ready.filter((s) => !taken.has(s.id) && s.kind === step.kind && batch.accepts(s, plan) && batch.key(s) === key);
      // Shared with the jobs still free, so that one batch does not hold all the work of a database.
      const size = Math.min(batch.max, Math.ceil((mates.length + 1) / Math.max(1, free - out.length)));
      const unit = [step, ...mates.slice(0, size - 1)];
      for (const s of unit) taken.add(s.id);
      out.push(unit);
    }
    return out;
  };

  let wake: (() => void) | undefined;
  const aborted = new Promise<void>((resolve) => (wake = resolve));
  const onAbort = () => wake?.();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (failure === undefined && runError === undefined && !signal.aborted) {
        if (lock && !lock.held) {
          runError = new ServerError(`lost the lock of split "${plan.name}" (its connection to the control database ended): no further step was started`, 'rerun `cloudphone-split apply` to resume');
        } else {
          const free = opts.jobs - active.size;
          const ready = free > 0 ? readySteps(runnable, satisfied, running) : [];
          for (const unit of free > 0 ? units(ready, free) : []) {
            const key = unit[0]!.id;
            for (const s of unit) running.add(s.id);
            const done = unit.length === 1 ? runOne(unit[0]!) : runBatch(unit);
            active.set(
              key,
              done.finally(() => {
                active.delete(key);
                for (const s of unit) running.delete(s.id);
              }),
            );
          }
        }
      }
      if (active.size === 0) break;
      await Promise.race(signal.aborted ? [...active.values()] : [...active.values(), aborted]);
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    await live.close();
  }

  const left = runnable.filter((s) => !finished.has(s.id));
  if (failure) {
    await journal.finishRun(run.runId, 'failed', `step ${failure.stepId} failed: ${failure.message}`).catch(() => undefined);
    const failed = runnable.find((s) => s.id === failure?.stepId);
    const hint = failed?.kind === 'preflight' ? 'fix what preflight lists above, then rerun `cloudphone-split apply`' : resumeHint(failed?.phase);
    throw new StepFailedError(failure.stepId, failure.message, { cause: failure.cause, hint });
  }
  if (runError) {
    await journal.finishRun(run.runId, 'failed', runError.message).catch(() => undefined);
    throw runError;
  }
  if (left.length > 0 && signal.aborted) {
    await journal.finishRun(run.runId, 'interrupted', `interrupted with ${left.length} of ${runnable.length} steps left`).catch(() => undefined);
    const command = resumeCommand(left[0]?.phase);
    throw new InterruptedError(
      `interrupted; rerun ${command} to resume`,
      `${left.length} of ${runnable.length} steps are left: \`cloudphone-split ${command}\` resumes at the first of them`,
    );
  }
  if (left.length > 0) {
    // Unreachable for a validated graph; kept so a scheduling bug cannot report success.
    const message = `no step can start: ${left.map((s) => s.id).join(', ')} wait for steps that never finish`;
    await journal.finishRun(run.runId, 'failed', message).catch(() => undefined);
    throw new StepFailedError(left[0]!.id, message);
  }
  await journal.finishRun(run.runId, 'succeeded');
  const steps = runnable.map((s) => outcomes.get(s.id)!);
  return {
    name: plan.name,
    runId: run.runId,
    resumed: run.resumed,
    planHash: run.planHash,
    ms: Date.now() - t0,
    ran: steps.filter((s) => s.state === 'done').length,
    skipped: steps.filter((s) => s.state === 'skipped').length,
    steps,
  };
}

/** Marks the steps done before this call as finished (and as skipped in this run when an earlier run did them). */
async function skipDone(
  opts: RunPlanOptions,
  run: RunStart,
  outcomes: Map<string, StepOutcome>,
  finished: Set<string>,
  emit: (event: ProgressEvent) => void,
): Promise<void> {
  const { plan, journal } = opts;
  const done = await journal.doneSteps(plan.name, run.planHash);
  const byEarlierRun = new Map<number, string[]>();
  for (const step of plan.steps) {
    const d = done.get(step.id);
    if (!d) continue;
    finished.add(step.id);
    const outcome: StepOutcome = { id: step.id, kind: step.kind, state: 'skipped', ms: 0 };
    if (d.rows !== undefined) outcome.rows = d.rows;
    if (d.bytes !== undefined) outcome.bytes = d.bytes;
    outcomes.set(step.id, outcome);
    if (d.runId !== run.runId) byEarlierRun.set(d.runId, [...(byEarlierRun.get(d.runId) ?? []), step.id]);
    emit({ type: 'step-done', stepId: step.id, ms: 0, rows: d.rows, bytes: d.bytes, skipped: true });
  }
  for (const [runId, ids] of byEarlierRun) await journal.stepsSkipped(run.runId, ids, runId);
  if (run.resumed || finished.size > 0) {
    emit({
      type: 'log',
      level: 'info',
      message: run.resumed
        ? `resuming run ${run.runId} (${run.previousState}): ${finished.size} of ${plan.steps.length} steps already done`
        : `run ${run.runId}: ${finished.size} of ${plan.steps.length} steps already done by an earlier run`,
    });
  }
}

/** The command that resumes a run of a plan's phase: apply, cutover (online), or rollback (through reverse replication). */
function resumeCommand(phase: Step['phase']): string {
  return phase === 'cutover' ? 'cutover' : phase === 'reverse' ? 'rollback' : 'apply';
}

/** What a failed step's error tells to do; undefined: the error's own default (rerun apply). */
function resumeHint(phase: Step['phase']): string | undefined {
  if (phase === 'cutover') return 'rerun `cloudphone-split cutover` to resume where it stopped: the source stays fenced (writes refused) until it finishes';
  if (phase === 'reverse') return 'rerun `cloudphone-split rollback` to resume where it stopped';
  return undefined;
}
