import type { Plan, Step, StepPhase } from './model.js';
import { stepId } from '../steps/ids.js';

/** The database a step acts in, when it acts in one service database. */
function databaseOf(step: Step): string | null {
  return 'target' in step && step.kind !== 'create_database' ? step.target.database : null;
}

/** How late a phase runs: a step depends only on steps of its own phase or of earlier ones; `reverse` and `complete` exclude each other. */
const PHASE_RANK: Record<StepPhase, number> = { apply: 0, cutover: 1, reverse: 2, complete: 2 };

function phaseProblems(steps: readonly Step[], byId: ReadonlyMap<string, Step>): string[] {
  const problems: string[] = [];
  for (const s of steps) {
    const phase = s.phase ?? 'apply';
    for (const d of s.dependsOn) {
      const dep = byId.get(d);
      if (!dep) continue;
      const depPhase = dep.phase ?? 'apply';
      if (depPhase === phase) continue;
      if (PHASE_RANK[depPhase] >= PHASE_RANK[phase]) problems.push(`step ${s.id} (phase ${phase}) depends on ${d} of phase ${depPhase}, which does not run before it`);
    }
  }
  return problems;
}

/**
 * Problems with the order of a plan's steps: a dependency naming no step of the
 * plan, and a step acting in a service database that does not depend, directly or
 * through other steps, on that database's `create_database` step (it could run
 * before the database exists, and fail on every rerun), and a step depending on a step
 * of a later phase (`apply` → `cutover` → `reverse` or `complete`; those two exclude
 * each other), which its command would never run first. Pure.
 */
export function stepOrderProblems(plan: Pick<Plan, 'steps'>): string[] {
  const byId = new Map(plan.steps.map((s) => [s.id, s]));
  const problems: string[] = [];
  for (const s of plan.steps) {
    for (const d of s.dependsOn) if (!byId.has(d)) problems.push(`step ${s.id} depends on ${d}, which is not a step of the plan`);
  }
  const ancestors = new Map<string, Set<string>>();
  const ancestorsOf = (id: string): Set<string> => {
    const known = ancestors.get(id);
    if (known) return known;
    const out = new Set<string>();
    ancestors.set(id, out);
    const stack = [...(byId.get(id)?.dependsOn ?? [])];
    while (stack.length > 0) {
      const d = stack.pop()!;
      if (out.has(d)) continue;
      out.add(d);
      const done = ancestors.get(d);
      if (done && done !== out && done.size > 0) for (const x of done) out.add(x);
      else stack.push(...(byId.get(d)?.dependsOn ?? []));
    }
    return out;
  };
  problems.push(...phaseProblems(plan.steps, byId));
  for (const s of plan.steps) {
    const db = databaseOf(s);
    if (db === null) continue;
    const create = stepId('create_database', db);
    if (!byId.has(create)) problems.push(`step ${s.id} acts in database ${db}, which no create_database step of the plan creates`);
    else if (!ancestorsOf(s.id).has(create)) problems.push(`step ${s.id} acts in database ${db} but does not depend on ${create}: it could run before the database exists`);
  }
  return problems;
}

/** Throws when the plan's step order is broken (see `stepOrderProblems`): a bug of the planner, never of the input. */
export function assertStepOrder(plan: Pick<Plan, 'steps'>): void {
  const problems = stepOrderProblems(plan);
  if (problems.length > 0) {
    throw new Error(`internal error: the planner built an unsafe step order (please report it):\n  ${problems.join('\n  ')}`);
  }
}
