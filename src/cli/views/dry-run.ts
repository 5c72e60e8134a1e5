import type { Plan, Step } from '../../plan/model.js';
import type { StepHandlers, StepHandler } from '../../steps/handler.js';
import type { Output } from '../output.js';

/** Starts the line of a copy's estimates in a dry run. */
export const ESTIMATE_PREFIX = '-- estimate: ';

/**
 * The size of a copy as the plan estimated it. The estimates come from the source's
 * statistics (ANALYZE and autovacuum move them between two plans of the same manifest),
 * so they stand on a line of their own that a comparison of two dry runs can leave out.
 */
export function estimateLine(step: { rowsEstimate: number; bytes: number }): string {
  return `${ESTIMATE_PREFIX}~${step.rowsEstimate} rows, ${step.bytes} bytes (from the source's statistics when planned)`;
}

/** Every statement and config diff `apply` would run, in order; nothing is executed. */
export function dryRunText(plan: Plan, handlers: StepHandlers): string[] {
  const lines: string[] = [`-- cloudphone-split apply --dry-run: split ${plan.name}, ${plan.steps.length} steps; nothing is changed`];
  for (const step of plan.steps) {
    const h = handlers[step.kind] as StepHandler<Step['kind']>;
    const where = 'target' in step && step.target ? `${step.target.database} on ${step.target.server}` : 'source';
    lines.push('', `-- [${step.id}] ${step.description} (${where})`);
    if (step.kind === 'copy_data') lines.push(estimateLine(step));
    for (const s of h.render(step as never)) lines.push(s.endsWith(';') || s.startsWith('--') ? s : `${s};`);
  }
  return lines;
}

export function renderDryRun(plan: Plan, handlers: StepHandlers, out: Output): void {
  const lines = dryRunText(plan, handlers);
  if (out.json) out.data({ name: plan.name, dryRun: true, statements: lines });
  else out.say(lines.join('\n'));
}
