import type { CommonOptions } from '../common.js';
import { planSplit } from '../../run/plan.js';
import { planJson, renderPlan } from '../views/plan.js';
import { planMarkdown } from '../views/plan-markdown.js';
import { ExitCode } from '../../errors.js';
import type { Output } from '../output.js';
import type { Plan } from '../../plan/model.js';

export interface PlanOptions extends CommonOptions {
  output?: string;
  schema?: string;
  sql?: boolean;
  format?: 'text' | 'markdown';
  splitTablesLargerThan?: string;
}

/** The command's handler: plan, show, write. Returns the exit code (1 when the plan has blocking problems). */
export async function planCommand(opts: PlanOptions, out: Output, env: NodeJS.ProcessEnv): Promise<{ code: number; plan: Plan; file: string }> {
  const { plan, file, write, kept } = await planSplit(opts, env, out);
  const markdown = opts.format === 'markdown' && !out.json;
  if (out.json) out.data(planJson(plan));
  else if (markdown) out.say(planMarkdown(plan));
  else renderPlan(plan, out, { sql: opts.sql || opts.verbose });
  await write();
  if (kept) out.warn(`\nPlan not written to ${file}: split ${plan.name} is applied with another plan, whose file reruns of apply need; write this one elsewhere with -o <file>`);
  else (markdown ? out.warn : out.say)(`\nPlan written to ${file}. Review it, then: cloudphone-split apply ${file}`);
  return { code: plan.errors.length > 0 ? ExitCode.difference : ExitCode.ok, plan, file };
}
