import type { QualifiedName } from '../catalog/model.js';
import type { Plan, StartReplicationStep, TargetRef } from '../plan/model.js';

/**
 * The leaf tables an online plan's subscriptions fill, shaped like verify's copied
 * tables: where each came from, where it went, and the source columns replicated.
 */
export function replicatedTables(plan: Plan): Array<{ service: string; table: string; source: QualifiedName; target: TargetRef; columns: string[] }> {
  return plan.steps
    .filter((s): s is StartReplicationStep => s.kind === 'start_replication')
    .flatMap((s) => (s.leaves ?? []).map((l) => ({ service: s.service ?? s.target.service, table: l.table, source: l.source, target: s.target, columns: l.columns })));
}
