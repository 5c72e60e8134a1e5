import type { Plan, StartReverseReplicationStep } from '../plan/model.js';
import type { Pools } from '../pg/pools.js';
import type { StepJournal } from '../steps/handler.js';
import { ensureReverseObjects } from '../steps/start-reverse-replication.js';
import { dropReverseReplicationOf } from './drop-replication.js';

export interface ReversePrepareReport {
  /** The databases whose reverse publication, slot, role and (disabled) subscription exist before the fence. */
  prepared: string[];
  ms: number;
}

function reverseStarts(plan: Plan, done: ReadonlySet<string>): StartReverseReplicationStep[] {
  return plan.steps.filter((s): s is StartReverseReplicationStep => s.kind === 'start_reverse_replication' && s.phase === 'cutover' && !done.has(s.id));
}

/**
 * Before the fence (`cutover`), outside the downtime: the reverse replication of every
 * database is made ahead, its subscription disabled (ensureReverseObjects), so that
 * inside the window start_reverse_replication only moves the slot past what is not to
 * go back and enables the subscription. Nothing streams back before that.
 */
export async function prepareReverse(pools: Pools, plan: Plan, journal: Pick<StepJournal, 'recordCreated'>, done: ReadonlySet<string>): Promise<ReversePrepareReport> {
  const t0 = Date.now();
  const steps = reverseStarts(plan, done);
  await Promise.all(steps.map((s) => ensureReverseObjects(pools, journal, s)));
  return { prepared: steps.map((s) => s.target.database), ms: Date.now() - t0 };
}

/**
 * A cutover that failed before its fence: the reverse replication it made ahead is
 * dropped (a slot nobody reads would keep the targets' WAL); the next run makes it again.
 */
export async function dropPreparedReverse(pools: Pools, plan: Plan, done: ReadonlySet<string>): Promise<void> {
  for (const s of reverseStarts(plan, done)) await dropReverseReplicationOf(pools, s);
}
