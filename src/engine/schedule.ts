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

/**
 * The steps that may start now, best first: not finished, not active, every
 * dependency finished. Plan order decides, except that ready `copy_data` steps are
 * taken largest first (by `bytes`), as a group at the place of the first of them,
 * so the longest copies start early and short ones fill the gaps at the end.
 */
export function readySteps(steps: readonly Step[], finished: ReadonlySet<string>, active: ReadonlySet<string>): Step[] {
  const ready: Array<{ step: Step; index: number }> = [];
  steps.forEach((step, index) => {
    if (finished.has(step.id) || active.has(step.id)) return;
    if (step.dependsOn.every((d) => finished.has(d))) ready.push({ step, index });
  });
  const firstCopy = ready.find((r) => r.step.kind === 'copy_data')?.index ?? -1;
  const key = (r: { step: Step; index: number }) => (r.step.kind === 'copy_data' ? firstCopy : r.index);
  const bytes = (s: Step) => (s.kind === 'copy_data' ? s.bytes : 0);
  ready.sort((a, b) => key(a) - key(b) || bytes(b.step) - bytes(a.step) || a.index - b.index);
  return ready.map((r) => r.step);
}
