import { createHash } from 'node:crypto';
import type { Plan } from '../plan/model.js';

/**
 * A step's size estimates, read from the source's statistics: autovacuum moves them
 * between two plans of the same source, and no step runs differently for them.
 */
const ESTIMATE_KEYS = new Set(['rowsEstimate', 'bytes', 'analyzed']);

/** The same value with every object's keys in sorted order (arrays keep theirs), estimates left out. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj).filter((k) => !ESTIMATE_KEYS.has(k)).sort();
    return Object.fromEntries(keys.map((k) => [k, canonical(obj[k])]));
  }
  return value;
}

/**
 * Identity of what a run executes: sha256 (hex) of the plan's steps as JSON, with the
 * keys of every object sorted (the journal keeps plans as jsonb, which reorders keys:
 * a plan read back from it hashes like its file). Two plan files with the same steps
 * have the same hash; any change to a step's SQL, order or dependencies changes it; a
 * change of the statistics' estimates alone does not (a killed `apply -m` replans after
 * autovacuum and resumes). A different split into ranges changes the steps, so the hash.
 * A run can only be resumed with the plan of the same hash.
 */
export function planHash(plan: Pick<Plan, 'steps'>): string {
  return createHash('sha256').update(JSON.stringify(canonical(plan.steps))).digest('hex');
}
