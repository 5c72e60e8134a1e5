import { type Command, Option } from 'commander';
import { withCommon, withServices, withSplitThreshold, splitEnv, outputFor } from '../common.js';
import type { Io } from '../io.js';
import { BadInputError } from '../../errors.js';
import type { ApplyOptions } from '../commands/apply.js';

export function registerApply(program: Command, io: Io): void {
  withServices(withSplitThreshold(withCommon(
    program
      .command('apply')
      .summary("run the plan's steps with the journal; resumes where a previous run stopped")
      .description(
        'Runs every step of the plan in order (independent steps in parallel), recording each in the journal before and after,\n' +
          'so that a run killed at any moment resumes where it stopped when started again. Without a plan file it plans from the\n' +
          'manifest first, exactly as `plan` would, and runs that. The source schema is re-read first: if it changed since the plan,\n' +
          'apply stops with exit 4 before changing anything.',
      )
      .argument('[planfile]', 'a plan written by `cloudphone-split plan`')
      .option('--dry-run', 'print every SQL statement and config diff it would run; change nothing anywhere')
      .addOption(new Option('--jobs <n>', 'steps run in parallel (default: number of cores)').argParser((v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new BadInputError(`--jobs takes a whole number >= 1, not ${v}`);
        return n;
      }))
      .addOption(
        new Option(
          '--index-workers <n>',
          "parallel workers PostgreSQL adds to each index build (max_parallel_maintenance_workers; default: the target server's setting). " +
            '0 keeps each build to one process, for a target whose cores are shared with other work',
        ).argParser((v) => {
          const n = Number(v);
          if (!Number.isInteger(n) || n < 0 || n > 1024) throw new BadInputError(`--index-workers takes a whole number from 0 to 1024, not ${v}`);
          return n;
        }),
      )
      .option('--yes', 'do not ask before the first change (required when not on a terminal)')
      .addHelpText(
        'after',
        '\nExamples:\n  $ cloudphone-split apply plans/cloudphone.plan.json --dry-run\n  $ cloudphone-split apply plans/cloudphone.plan.json --yes --jobs 2\n' +
          '\nOne service at a time: the same plan, applied in parts. Each run does the shared preflight\n' +
          "and only the named services' steps: their databases, their tables' fence, copy, indexes, grants, config. The old\n" +
          'database is scheduled for retention by the run that applies the last service.\n' +
          'Services that repoint one config file do so in plan order: apply them in that order, or together.\n' +
          "Online splits: a run creates the named services' databases, copies their tables and starts their replication\n" +
          '(nothing is fenced); `status` shows which services replicate; `cutover` switches every service at once and\n' +
          'refuses (exit 2, naming them) while some are not applied.\n' +
          '  $ cloudphone-split apply --service api-gateway --yes\n' +
          '  $ cloudphone-split verify --service api-gateway\n' +
          '  $ cloudphone-split apply --service user-service,device-service --yes',
      ),
  )), "run only these services' steps (plus the shared preflight); e.g. --service billing-service,device-service").action(async (planFile: string | undefined, opts: ApplyOptions & { splitTablesLargerThan?: string }) => {
    const out = outputFor(opts, io);
    if (planFile !== undefined && opts.splitTablesLargerThan !== undefined) {
      throw new BadInputError('--split-tables-larger-than changes how a plan is made; a plan file already fixes it', 'pass it to `plan` (or to `apply -m manifest.yaml` without a plan file)');
    }
    const { applyCommand } = await import('../commands/apply.js');
    io.exit(await applyCommand(planFile, opts, out, splitEnv(io.env, opts), io));
  });
}
