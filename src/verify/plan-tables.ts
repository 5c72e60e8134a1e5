import type { QualifiedName } from '../catalog/model.js';
import type { Plan, StepKind, StepOf, TargetRef } from '../plan/model.js';
import { replicatedTables } from '../online/replicated-tables.js';

/** One leaf table as it was copied: where it came from, where it went, and the source columns compared. */
export interface CopiedTable {
  service: string;
  /** `schema.name`, as in the plan. */
  table: string;
  source: QualifiedName;
  target: TargetRef;
  /** The source's copied columns (generated and denormalized columns excluded). */
  columns: string[];
  /** Heap and TOAST bytes at plan time, summed over its copy steps; absent when unknown (tables filled by a subscription). */
  bytes?: number;
}

export function stepsOf<K extends StepKind>(plan: Plan, kind: K): Array<StepOf<K>> {
  return plan.steps.filter((s): s is StepOf<K> => s.kind === kind);
}

/**
 * The leaf tables of the split (moved and copied; partitions, not partitioned
 * parents), one entry per target table even when its copy was split into ranges.
 */
export function copiedTables(plan: Plan): CopiedTable[] {
  const seen = new Map<string, CopiedTable>();
  for (const step of stepsOf(plan, 'copy_data')) {
    const id = `${step.target.server}\u0000${step.target.database}\u0000${step.table ?? `${step.source.schema}.${step.source.name}`}`;
    const known = seen.get(id);
    if (known) {
      known.bytes = (known.bytes ?? 0) + step.bytes;
      continue;
    }
    seen.set(id, {
      service: step.service ?? step.target.service,
      table: step.table ?? `${step.source.schema}.${step.source.name}`,
      source: step.source,
      target: step.target,
      columns: step.columns,
      bytes: step.bytes,
    });
  }
  // copy: server: the target servers copied these themselves.
  for (const step of stepsOf(plan, 'start_server_copy')) {
    for (const t of step.tables) {
      const id = `${step.target.server}\u0000${step.target.database}\u0000${t.table}`;
      if (!seen.has(id)) seen.set(id, { service: step.service ?? step.target.service, table: t.table, source: t.source, target: step.target, columns: t.columns });
    }
  }
  // Online plans: the subscriptions fill the tables.
  for (const t of replicatedTables(plan)) {
    const id = `${t.target.server}\u0000${t.target.database}\u0000${t.table}`;
    if (!seen.has(id)) seen.set(id, t);
  }
  return [...seen.values()];
}

/** Where a service's database is. */
export function targetOf(plan: Plan, service: string): TargetRef | null {
  const s = plan.services.find((x) => x.name === service);
  return s ? { service: s.name, server: s.server, database: s.database } : null;
}

/** Every table key a service holds: owned and copied roots, and the leaves that were copied. */
export function serviceTableKeys(plan: Plan, service: string): string[] {
  const s = plan.services.find((x) => x.name === service);
  if (!s) return [];
  const keys = new Set<string>([...s.tables.map((t) => t.name), ...s.copies.map((t) => t.name)]);
  for (const c of copiedTables(plan)) if (c.service === service) keys.add(c.table);
  return [...keys].sort();
}
