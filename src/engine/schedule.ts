import type { Step } from '../plan/model.js';

/**
 * Problems that make a step list impossible to run: duplicate ids, and dependencies
 * that name no step or a later one (so the graph is acyclic when this returns []).
 */
export function stepGraphProblems(steps: readonly Pick<Step, 'id' | 'dependsOn'>[]): string[] {
  const problems: string[] = [];
  const index = new Map<string, number>();
  steps.forEach((s, i) => {
    if (index.has(s.id)) problems.push(`step ${s.id} appears twice`);
    else index.set(s.id, i);
  });
  steps.forEach((s, i) => {
    for (const dep of s.dependsOn) {
      const j = index.get(dep);
      if (j === undefined) problems.push(`step ${s.id} depends on ${dep}, which is not in the plan`);
      else if (j >= i) problems.push(`step ${s.id} depends on ${dep}, which comes after it`);
    }
  });
  return problems;
}

/** A table's own index step (a per-index build, or its keys, triggers and policies). */
function isTableIndexStep(step: Step): boolean {
  return step.kind === 'create_indexes' && step.table !== undefined;
}

/**
 * The steps that may start now, best first: not finished, not active, every
 * dependency finished. A table's ready `create_indexes` steps come first, so its
 * indexes are built right after its data, beside the copies still running; then
 * ready `copy_data` steps, largest first (by `bytes`), so the longest copies start
 * early and short ones fill the gaps at the end; then the rest, in plan order.
 */
export function readySteps(steps: readonly Step[], finished: Pick<ReadonlySet<string>, 'has'>, active: ReadonlySet<string>): Step[] {
  const ready: Array<{ step: Step; index: number }> = [];
  steps.forEach((step, index) => {
    if (finished.has(step.id) || active.has(step.id)) return;
    if (step.dependsOn.every((d) => finished.has(d))) ready.push({ step, index });
  });
  // A target server's own copy (start_server_copy) ranks as a copy of all its tables.
  const group = (s: Step) => (isTableIndexStep(s) ? 0 : s.kind === 'copy_data' || s.kind === 'start_server_copy' ? 1 : 2);
  const bytes = (s: Step) => (s.kind === 'copy_data' ? s.bytes : s.kind === 'start_server_copy' ? s.tables.reduce((a, t) => a + t.bytes, 0) : 0);
  ready.sort((a, b) => group(a.step) - group(b.step) || bytes(b.step) - bytes(a.step) || a.index - b.index);
  return ready.map((r) => r.step);
}
