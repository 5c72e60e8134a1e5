import { createHash } from 'node:crypto';
import type { Plan } from '../plan/model.js';

/**
 * Identity of what a run executes: sha256 (hex) of the plan's steps as JSON. Two plan
 * files with the same steps have the same hash; any change to a step's SQL, order or
 * dependencies changes it. A run can only be resumed with the plan of the same hash.
 */
export function planHash(plan: Pick<Plan, 'steps'>): string {
  return createHash('sha256').update(JSON.stringify(plan.steps)).digest('hex');
}
