import type { Plan, WaitServerCopyStep } from '../plan/model.js';
import type { StepResult } from '../steps/handler.js';

/** The wait_server_copy step that copied `table` into `database`, if a target server copied it. */
export function serverCopyOf(plan: Pick<Plan, 'steps'>, database: string, table: string): WaitServerCopyStep | undefined {
  return plan.steps.find((s): s is WaitServerCopyStep => s.kind === 'wait_server_copy' && s.target.database === database && s.tables.includes(table));
}

/** The source's row count of a table its target server copied, as wait_server_copy recorded it; undefined when unknown. */
export function serverCopiedRows(result: StepResult | undefined, table: string): number | undefined {
  const counts = result?.detail?.sourceRows as Record<string, unknown> | undefined;
  const n = Number(counts?.[table] ?? NaN);
  return Number.isNaN(n) ? undefined : n;
}
