import { Journal } from '../engine/journal.js';
import { planHash } from '../engine/plan-hash.js';
import { runChangedAnything } from '../engine/run-changes.js';
import { openJournalIfExists } from '../engine/journal-open.js';
import type { Plan } from '../plan/model.js';
import { nodePgConfig } from '../conn/node-pg.js';

export { openJournalIfExists } from '../engine/journal-open.js';

/** `fn` on the journal of `controlUrl`, closed after; null when there is no journal yet. */
async function withJournal<T>(controlUrl: string, fn: (journal: Journal) => Promise<T | null>): Promise<T | null> {
  const journal = await openJournalIfExists(controlUrl);
  if (!journal) return null;
  try {
    return await fn(journal);
  } finally {
    await journal.close();
  }
}

/** The split's latest run, unless rolled back (rollback marks every run of the split). */
async function lastRun(journal: Journal, name: string) {
  const run = (await journal.status(name, { limit: 1 })).runs[0];
  return run && run.state !== 'rolled_back' ? run : undefined;
}

/** Ids of the done steps of the split's runs of `plan` (same hash). */
async function doneIds(journal: Journal, plan: Plan): Promise<Set<string>> {
  return new Set((await journal.doneSteps(plan.name, planHash(plan))).keys());
}

/** The steps of `plan` the journal records as done (none without a journal); reads only. */
export async function doneStepIds(plan: Plan, controlUrl: string): Promise<Set<string>> {
  return (await withJournal(controlUrl, (journal) => doneIds(journal, plan))) ?? new Set();
}

/** Every step `apply` runs (all but an online plan's cutover steps) is in `done`. */
export function everyApplyStepDone(plan: Pick<Plan, 'steps'>, done: ReadonlySet<string>): boolean {
  return plan.steps.every((s) => (s.phase ?? 'apply') !== 'apply' || done.has(s.id));
}

/**
 * Whether the journal records `plan` as applied: the split's latest run ran this plan
 * (same hash) and succeeded, and every apply step of the plan is done (a run of some
 * services, `apply --service`, leaves the others to do). A run killed after its last
 * step is not finished: rerunning it closes it.
 */
export async function isApplied(plan: Plan, controlUrl: string): Promise<boolean> {
  const applied = await withJournal(controlUrl, async (journal) => {
    const run = await lastRun(journal, plan.name);
    return run?.state === 'succeeded' && run.planHash === planHash(plan) && everyApplyStepDone(plan, await doneIds(journal, plan));
  });
  return applied === true;
}

/**
 * How far an online plan's cutover went, from the journal: not started, started and not
 * finished (the source then stays fenced until `cutover` runs again), or done; null for a
 * plan without cutover steps.
 */
export async function cutoverProgress(plan: Plan, controlUrl: string): Promise<'not-started' | 'unfinished' | 'done' | null> {
  const steps = plan.steps.filter((s) => s.phase === 'cutover');
  if (steps.length === 0) return null;
  const seen = await withJournal(controlUrl, async (journal) => {
    const done = await doneIds(journal, plan);
    // A step killed while it ran (the fence may be up) counts as started: the journal has it running or failed.
    const run = await lastRun(journal, plan.name);
    const started = new Set((run?.planHash === planHash(plan) ? run.steps : []).filter((s) => s.state !== 'pending').map((s) => s.id));
    return { done, started };
  });
  const done = steps.filter((s) => seen?.done.has(s.id)).length;
  const started = steps.filter((s) => seen?.done.has(s.id) || seen?.started.has(s.id)).length;
  return started === 0 ? 'not-started' : done === steps.length ? 'done' : 'unfinished';
}

/** The plan of the split's last successful run, and whether all of it is done or only some services. */
export interface AppliedPlan {
  plan: Plan;
  /** Every apply step is done; false after `apply --service` of some of the services. */
  complete: boolean;
  done: Set<string>;
}

/**
 * The plan of the split's last run when a run of that plan succeeded (the last one, or an
 * earlier one of a split applied service by service whose latest run was interrupted),
 * whatever manifest it came from; null otherwise.
 */
export async function lastSucceededPlan(name: string, controlUrl: string): Promise<AppliedPlan | null> {
  return withJournal(controlUrl, async (journal) => {
    const runs = (await journal.status(name)).runs.filter((r) => r.state !== 'rolled_back');
    const last = runs[0];
    if (!last) return null;
    const plan = await journal.lastPlan(name);
    if (!plan || planHash(plan) !== last.planHash) return null;
    if (!runs.some((r) => r.planHash === last.planHash && r.state === 'succeeded')) return null;
    const done = await doneIds(journal, plan);
    return { plan, complete: everyApplyStepDone(plan, done), done };
  });
}

/**
 * The plan of the split's last apply when it succeeded and was made from exactly this
 * manifest text: running the manifest again means that plan, whose steps are all done
 * or (after `apply --service`) done for some services, the latest run maybe killed
 * (planning again would not find the config text it already replaced). A manifest that
 * changed since, or a split no run of which succeeded, plans afresh.
 */
export async function finishedPlanOf(name: string, manifestText: string, controlUrl: string): Promise<AppliedPlan | null> {
  const last = await lastSucceededPlan(name, controlUrl);
  return last && last.plan.manifest.text === manifestText ? last : null;
}

/** The split's last run, unfinished, with its plan. */
export interface InterruptedRun {
  plan: Plan;
  runId: number;
  state: string;
  /** Its steps done. */
  done: Set<string>;
}

/**
 * The split's last run when it did not finish (killed, failed, interrupted) after its
 * preflight passed (so it may have changed something), with its plan. Running the same
 * manifest again resumes that run, as its plan file would: planning afresh would see what
 * the run itself made (an online run's replication roles as users of the tables, the config
 * files it repointed) and differ, and the journal refuses to resume with a different plan.
 */
export async function interruptedRunOf(name: string, controlUrl: string): Promise<InterruptedRun | null> {
  return withJournal(controlUrl, async (journal) => {
    const run = await lastRun(journal, name);
    if (!run || run.state === 'succeeded' || !runChangedAnything(run.steps)) return null;
    const plan = await journal.lastPlan(name);
    if (!plan || planHash(plan) !== run.planHash) return null;
    return { plan, runId: run.id, state: run.state, done: new Set(run.steps.filter((s) => s.state === 'done').map((s) => s.id)) };
  });
}

