import type { Plan } from '../plan/model.js';
import { planHash } from './plan-hash.js';

/**
 * Whether `next` only amends `old` for a run that did `done` of it: the two differ in
 * `repoint_config` steps not done yet and nothing else (a config file edited after the
 * plan, planned again), so the run may go on with `next`.
 */
export function amendsPlan(old: Pick<Plan, 'steps'>, next: Pick<Plan, 'steps'>, done: ReadonlySet<string>): boolean {
  const before = new Map(old.steps.map((s) => [s.id, s]));
  const after = new Map(next.steps.map((s) => [s.id, s]));
  for (const id of new Set([...before.keys(), ...after.keys()])) {
    const a = before.get(id);
    const b = after.get(id);
    if (a && b && planHash({ steps: [a] }) === planHash({ steps: [b] })) continue;
    if (done.has(id) || (a ?? b)!.kind !== 'repoint_config' || (b ?? a)!.kind !== 'repoint_config') return false;
  }
  return true;
}
