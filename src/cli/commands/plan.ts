import { Command } from 'commander';
import { withCommon, withFormat, withSplitThreshold, splitEnv, outputFor, type CommonOptions } from '../common.js';
import type { Io } from '../io.js';
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
  const { plan, file, write } = await planSplit(opts, env, out);
  const markdown = opts.format === 'markdown' && !out.json;
  if (out.json) out.data(planJson(plan));
  else if (markdown) out.say(planMarkdown(plan));
  else renderPlan(plan, out, { sql: opts.sql || opts.verbose });
  await write();
  (markdown ? out.warn : out.say)(`\nPlan written to ${file}. Review it, then: cloudphone-split apply ${file}`);
  return { code: plan.errors.length > 0 ? ExitCode.difference : ExitCode.ok, plan, file };
}

export function registerPlan(program: Command, io: Io): void {
  withSplitThreshold(withFormat(withCommon(
    program
      .command('plan')
      .summary('validate the manifest against the source and write the plan')
      .description(
        'Reads the manifest and the live source catalog (or a snapshot with --schema), checks every rule of the manifest,\n' +
          'prints what apply will do per service (databases, tables, dropped foreign keys, denormalized columns, config diffs)\n' +
          'and writes the plan file. A reviewed plan file is exactly what `apply <planfile>` runs.',
      )
      .option('-o, --output <file>', 'plan file to write (default <name>.plan.json beside the manifest: plans/<name>.plan.json)')
      .option('--schema <snapshot.json>', 'plan from a `snapshot -o` file instead of the live source (CI without database access)')
      .option('--sql', 'also print the SQL of every step')
      .addHelpText('after', '\nExamples:\n  $ cloudphone-split plan -m plans/split.yaml\n  $ cloudphone-split plan --schema plans/cloudphone.schema.json --json > plan.json\n  $ cloudphone-split plan --format markdown > plan.md    # a pull-request comment'),
  ))).action(async (opts: PlanOptions) => {
    const out = outputFor(opts, io);
    io.exit((await planCommand(opts, out, splitEnv(io.env, opts))).code);
  });
}
