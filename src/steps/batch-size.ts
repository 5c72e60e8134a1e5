import type { Plan } from '../plan/model.js';

/**
 * Tables whose estimated size is at most this many bytes have their copy and their
 * index step run in batches (StepBatch): for them the cost of a step is its round
 * trips, not its work. The estimate only chooses how a table is copied, never whether:
 * a table larger than its statistics say is still copied whole, in its batch.
 */
export const BATCH_BYTES = 1024 * 1024;

/** Most steps in one batch: one transaction on the target holds a lock per table and index of it. */
export const BATCH_MAX = 50;

const sizes = new WeakMap<Plan, Map<string, number>>();

/** The planned size of `table` (moved or copied) in the plan's services; undefined when it has none. */
export function plannedBytes(plan: Plan, table: string): number | undefined {
  let m = sizes.get(plan);
  if (!m) {
    m = new Map();
    for (const s of plan.services) for (const t of [...s.tables, ...s.copies]) m.set(t.name, Math.max(m.get(t.name) ?? 0, t.bytes));
    sizes.set(plan, m);
  }
  return m.get(table);
}

/** The key of a batch: steps acting in one target database. */
export function targetKey(target: { server: string; database: string }): string {
  return `${target.server}\u0000${target.database}`;
}
