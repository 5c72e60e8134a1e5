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

/** Where a step runs, as a dry run's heading names it: the database and server of its target, a role's server, or the source. */
export function stepWhere(step: Step): string {
  if ('target' in step && step.target) return `${step.target.database} on ${step.target.server}`;
  if (step.kind === 'create_role') return step.server === 'source' ? "the source's server" : `server ${step.server}`;
  if (step.kind === 'preflight') return 'the source and every target server';
  return 'source';
}

/**
 * Every statement and config diff `apply` would run, in order; nothing is executed.
 * `done`: steps a run of this plan did already (a resumed run skips them), left out and counted.
 */
export function dryRunText(plan: Plan, handlers: StepHandlers, done: ReadonlySet<string> = new Set()): string[] {
  const left = plan.steps.filter((s) => !done.has(s.id));
  const skipped = plan.steps.length - left.length;
  const lines: string[] = [
    `-- cloudphone-split apply --dry-run: split ${plan.name}, ${plan.steps.length} steps${skipped > 0 ? `, ${skipped} of them done by an earlier run (left out: apply resumes after them)` : ''}; nothing is changed`,
  ];
  for (const step of left) {
    const h = handlers[step.kind] as StepHandler<Step['kind']>;
    lines.push('', `-- [${step.id}] ${step.description} (${stepWhere(step)})`);
    if (step.kind === 'copy_data') lines.push(estimateLine(step));
    for (const s of h.render(step as never)) lines.push(s.endsWith(';') || s.startsWith('--') ? s : `${s};`);
  }
  return lines;
}

export function renderDryRun(plan: Plan, handlers: StepHandlers, out: Output, done: ReadonlySet<string> = new Set()): void {
  const lines = dryRunText(plan, handlers, done);
  if (out.json) out.data({ name: plan.name, dryRun: true, statements: lines });
  else out.say(lines.join('\n'));
}
