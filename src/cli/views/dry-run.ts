import type { Plan, Step } from '../../plan/model.js';
import type { StepHandlers, StepHandler } from '../../steps/handler.js';
import type { Output } from '../output.js';

/** Every statement and config diff `apply` would run, in order; nothing is executed. */
export function dryRunText(plan: Plan, handlers: StepHandlers): string[] {
  const lines: string[] = [`-- cloudphone-split apply --dry-run: split ${plan.name}, ${plan.steps.length} steps; nothing is changed`];
  for (const step of plan.steps) {
    const h = handlers[step.kind] as StepHandler<Step['kind']>;
    const where = 'target' in step && step.target ? `${step.target.database} on ${step.target.server}` : 'source';
    lines.push('', `-- [${step.id}] ${step.description} (${where})`);
    for (const s of h.render(step as never)) lines.push(s.endsWith(';') || s.startsWith('--') ? s : `${s};`);
  }
  return lines;
}

export function renderDryRun(plan: Plan, handlers: StepHandlers, out: Output): void {
  const lines = dryRunText(plan, handlers);
  if (out.json) out.data({ name: plan.name, dryRun: true, statements: lines });
  else out.say(lines.join('\n'));
}
