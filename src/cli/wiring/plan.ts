import type { Command } from 'commander';
import { withCommon, withFormat, withSplitThreshold, splitEnv, outputFor } from '../common.js';
import type { Io } from '../io.js';
import type { PlanOptions } from '../commands/plan.js';

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
    const { planCommand } = await import('../commands/plan.js');
    const out = outputFor(opts, io);
    io.exit((await planCommand(opts, out, splitEnv(io.env, opts))).code);
  });
}
