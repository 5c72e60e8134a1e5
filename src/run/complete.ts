import type { Journal } from '../engine/journal.js';
import type { StepOutcome } from '../engine/executor.js';
import type { ProgressSink } from '../steps/handler.js';
import { BadInputError, PlanBlockedError } from '../errors.js';
import { isPhase, runReversePhase } from '../rollback/reverse-rollback.js';

export interface EndReverseOptions {
  journal: Journal;
  split: string;
  /** Server name → expanded URL ("source": the source database's URL). */
  servers: Record<string, string>;
  baseDir: string;
  env: NodeJS.ProcessEnv;
  progress: ProgressSink;
  signal: AbortSignal;
}

/** What ending the reverse replication did. */
export interface EndReverseResult {
  state: 'completed' | 'already-completed' | 'none';
  /** `kind name` of every object dropped (subscription, slot, publication, role). */
  dropped: string[];
  steps: StepOutcome[];
}

/**
 * Ends the reverse replication of a cut-over online split for good (`cutover
 * --complete`, and `retention prune` before it drops anything): the plan's `complete`
 * phase, journaled and resumable. `none` when the split has no reverse replication
 * running (not online, not cut over, or rolled back). Refuses while a rollback through
 * it is under way (exit 1), and before the cutover has finished (exit 2).
 * The caller holds the split's lock.
 */
export async function endReverseReplication(opts: EndReverseOptions): Promise<EndReverseResult> {
  const plan = await opts.journal.lastPlan(opts.split);
  const none: EndReverseResult = { state: 'none', dropped: [], steps: [] };
  if (!plan) return none;
  const complete = plan.steps.filter(isPhase('complete'));
  const starts = plan.steps.filter((s) => s.kind === 'start_reverse_replication');
  if (complete.length === 0 || starts.length === 0) return none;
  const done = await opts.journal.doneSteps(opts.split);
  if (complete.every((s) => done.has(s.id))) return { state: 'already-completed', dropped: [], steps: [] };
  if (plan.steps.filter(isPhase('reverse')).some((s) => done.has(s.id))) {
    throw new PlanBlockedError(
      `split ${opts.split}: a rollback through reverse replication is under way, so reverse replication is not ended; nothing was changed`,
      'run `cloudphone-split rollback` again to finish it',
    );
  }
  if (!starts.some((s) => done.has(s.id))) return none;
  const unfinished = plan.steps.filter(isPhase('cutover')).filter((s) => !done.has(s.id));
  if (unfinished.length > 0) {
    throw new BadInputError(
      `split ${opts.split}: the cutover has not finished (${unfinished.length} steps left, first: ${unfinished[0]!.id}); nothing was changed`,
      'run `cloudphone-split cutover` again to finish it, then end reverse replication',
    );
  }
  const steps = await runReversePhase({ ...opts, plan, phase: 'complete' });
  // Gone for good: the journal no longer lists them for rollback to drop.
  for (const o of await opts.journal.created(opts.split)) {
    if ((o.kind === 'publication' || o.kind === 'slot' || o.kind === 'subscription') && o.detail?.reverse === true) await opts.journal.forgetCreated(opts.split, o);
  }
  const after = await opts.journal.doneSteps(opts.split);
  const dropped = complete.flatMap((s) => {
    const d = after.get(s.id)?.detail?.dropped;
    return Array.isArray(d) ? (d as string[]) : [];
  });
  return { state: 'completed', dropped, steps };
}
