import type { Journal } from '../engine/journal.js';
import type { Plan, Step } from '../plan/model.js';
import type { ProgressSink } from '../steps/handler.js';
import type { StepOutcome } from '../engine/executor.js';
import { runPlan } from '../engine/executor.js';
import { handlers } from '../steps/index.js';
import { Pools } from '../pg/pools.js';
import { PlanBlockedError } from '../errors.js';

/** How far a cutover plan's reverse replication has come, from the journal. */
export type ReverseState =
  /** The plan has no reverse replication, or it was never started: rollback as before cutover. */
  | 'none'
  /** Started, but the cutover has not finished: finish it first. */
  | 'cutover-unfinished'
  /** Running, the cutover done: rollback goes through it. */
  | 'running'
  /** `cutover --complete` ended it (or began to): the way back is gone. */
  | 'completed';

export const isPhase = (phase: Step['phase']) => (s: Step) => (s.phase ?? 'apply') === phase;

export function reverseState(plan: Plan | undefined, done: ReadonlyMap<string, unknown>): ReverseState {
  if (!plan) return 'none';
  const starts = plan.steps.filter((s) => s.kind === 'start_reverse_replication');
  if (starts.length === 0) return 'none';
  if (plan.steps.filter(isPhase('complete')).some((s) => done.has(s.id))) return 'completed';
  if (plan.steps.filter(isPhase('reverse')).some((s) => done.has(s.id))) return 'running';
  if (!starts.some((s) => done.has(s.id))) return 'none';
  if (!plan.steps.filter(isPhase('cutover')).every((s) => done.has(s.id))) return 'cutover-unfinished';
  return 'running';
}

/** Refuses a rollback that reverse replication cannot carry (exit 1, nothing changed). */
export function refuseReverse(split: string, state: ReverseState): void {
  if (state === 'completed') {
    throw new PlanBlockedError(
      `split ${split}: \`cutover --complete\` ended the reverse replication, so the writes made to the new databases since cutover can no longer be brought back; nothing was changed`,
      'the split stays as it is; if `cutover --complete` was interrupted, run it again to finish it',
    );
  }
  if (state === 'cutover-unfinished') {
    throw new PlanBlockedError(
      `split ${split}: the cutover started reverse replication but has not finished; nothing was changed`,
      'run `cloudphone-split cutover` again to finish it, then `cloudphone-split rollback`',
    );
  }
}

export interface ReverseRunOptions {
  journal: Journal;
  plan: Plan;
  servers: Record<string, string>;
  baseDir: string;
  env: NodeJS.ProcessEnv;
  progress: ProgressSink;
  signal: AbortSignal;
  /** The phase to run: `reverse` (rollback after cutover) or `complete` (cutover --complete). */
  phase: 'reverse' | 'complete';
  /** See StepContext.discardSourceWrites. */
  discardSourceWrites?: ReadonlySet<string>;
}

/**
 * Runs one phase of the reverse replication with the executor and the journal, as
 * apply and cutover run theirs: each step journaled, a killed run resumed by the next.
 * The caller holds the split's lock.
 */
export async function runReversePhase(opts: ReverseRunOptions): Promise<StepOutcome[]> {
  const pools = new Pools(opts.servers, 4);
  try {
    const summary = await runPlan({
      plan: opts.plan,
      handlers,
      pools,
      journal: opts.journal,
      jobs: 2,
      env: opts.env,
      baseDir: opts.baseDir,
      progress: opts.progress,
      signal: opts.signal,
      snapshot: () => Promise.reject(new Error('reverse replication copies nothing from a snapshot')),
      only: isPhase(opts.phase),
      ...(opts.discardSourceWrites ? { discardSourceWrites: opts.discardSourceWrites } : {}),
    });
    return summary.steps;
  } finally {
    await pools.end();
  }
}
