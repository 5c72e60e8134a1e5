import { createHash } from 'node:crypto';
import type { Plan } from '../plan/model.js';

/** The same value with every object's keys in sorted order (arrays keep theirs). */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return Object.fromEntries(Object.keys(obj).sort().map((k) => [k, canonical(obj[k])]));
  }
  return value;
}

/**
 * Identity of what a run executes: sha256 (hex) of the plan's steps as JSON, with the
 * keys of every object sorted (the journal keeps plans as jsonb, which reorders keys:
 * a plan read back from it hashes like its file). Two plan files with the same steps
 * have the same hash; any change to a step's SQL, order or dependencies changes it.
 * A run can only be resumed with the plan of the same hash.
 */
export function planHash(plan: Pick<Plan, 'steps'>): string {
  return createHash('sha256').update(JSON.stringify(canonical(plan.steps))).digest('hex');
}
