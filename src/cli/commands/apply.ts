import { Command, Option } from 'commander';
import { withCommon, withServices, withSplitThreshold, splitEnv, outputFor, type CommonOptions } from '../common.js';
import type { Io } from '../io.js';
import { consent, type Terminal } from '../consent.js';
import type { Output } from '../output.js';
import type { Plan, Step } from '../../plan/model.js';
import { selectServices, type ServiceSelection } from '../../plan/service-selection.js';
import { handlers } from '../../steps/index.js';
import { chooseProgress } from '../views/progress.js';
import { BadInputError } from '../../errors.js';
import { renderDryRun } from '../views/dry-run.js';
import { executeApply, prepareApply } from '../../run/apply.js';
import { isApplied } from '../../run/applied-plan.js';

export interface ApplyOptions extends CommonOptions {
  dryRun?: boolean;
  jobs?: number;
  indexWorkers?: number;
  yes?: boolean;
  /** `--service`: only these services' steps. */
  service?: string[];
  /** Set by tests: the clock used for retention. */
  now?: Date;
}

function question(plan: Plan, services: string[] | undefined): string {
  const chosen = (s: Step) => services === undefined || (s.service !== undefined && services.includes(s.service));
  const tables =
    plan.steps.filter((s) => s.kind === 'copy_data' && chosen(s)).length +
    plan.steps.reduce((n, s) => n + (s.kind === 'start_server_copy' && chosen(s) ? s.tables.length : 0), 0);
  if (services && plan.mode === 'online') return `Apply ${services.join(', ')} of split ${plan.name}: ${services.length} databases, their tables replicated from ${plan.source.database} (nothing fenced until cutover)?`;
  if (services) return `Apply ${services.join(', ')} of split ${plan.name}: ${services.length} databases, ${tables} tables copied, their tables fenced in ${plan.source.database}?`;
  return `Apply split ${plan.name}: ${plan.services.length} databases, ${tables} tables copied, then fence and retire ${plan.source.database}?`;
}

/** "2 of 6 services applied; retention starts after the last" after a run of some services. */
export function partialLine(plan: Plan, selection: ServiceSelection): string {
  const retention = selection.heldBack.some((s) => s.kind === 'schedule_retention');
  return `${selection.appliedAfter.length} of ${plan.services.length} services applied${retention ? '; retention starts after the last' : ''}`;
}

/** The command's handler: prepare, show (dry run) or ask, run, say what is next. */
export async function applyCommand(planFile: string | undefined, opts: ApplyOptions, out: Output, env: NodeJS.ProcessEnv, term: Terminal): Promise<number> {
  const services = opts.service;
  const prepared = await prepareApply(planFile, { ...opts, ...(services ? { services } : {}) }, env, out);
  const { plan, manifestFile } = prepared;
  if (opts.dryRun) {
    // The steps of those services as a first run would select them (the journal is not read).
    const chosen = services ? selectServices(plan, services, new Set()).steps : null;
    renderDryRun(chosen ? { ...plan, steps: plan.steps.filter((s) => chosen.has(s.id)) } : plan, handlers, out);
    return 0;
  }
  if (prepared.finished || (await isApplied(plan, prepared.controlUrl))) {
    out.say(`Split ${plan.name}: nothing left to do, every step of its plan is done (\`cloudphone-split status\` lists them).`);
    return 0;
  }
  const approved = await consent(term, opts.yes, { action: `apply creates databases and roles and fences ${plan.source.database}`, question: question(plan, services) });
  if (!approved) {
    out.warn('Nothing was changed.');
    return 0;
  }
  const progress = chooseProgress({ json: out.json, color: out.color, isTTY: out.interactive, stream: out.stdout });
  try {
    const summary = await executeApply(prepared, { jobs: opts.jobs, indexWorkers: opts.indexWorkers, now: opts.now, progress, ...(services ? { services } : {}) }, env, out);
    progress.close?.();
    const selection = summary.selection;
    if (selection && selection.appliedAfter.length < plan.services.length) {
      out.say(out.c.green(`\n${selection.services.join(', ')} of split ${plan.name} applied: ${summary.ran} steps run, ${summary.skipped} already done.`));
      out.say(`${partialLine(plan, selection)}.`);
      const left = plan.services.map((s) => s.name).filter((n) => !selection.appliedAfter.includes(n));
      if (plan.mode === 'online') {
        out.say(`Replication is running for ${selection.appliedAfter.join(', ')}; the other services stay on the source.`);
        out.say(`Next: apply the others: cloudphone-split apply --service ${left.join(',')} -m ${manifestFile}; cutover switches every service at once, once all of them replicate.`);
      } else {
        out.say(`Next: cloudphone-split verify --service ${selection.services.join(',')} -m ${manifestFile}; then apply the others: cloudphone-split apply --service ${left.join(',')} -m ${manifestFile}`);
      }
      return 0;
    }
    out.say(out.c.green(`\nSplit ${plan.name} applied: ${summary.ran} steps run, ${summary.skipped} already done.`));
    if (plan.mode === 'online') {
      out.say('Replication is running: the new databases follow every write to the source.');
      out.say(`Next, when ready to switch: cloudphone-split cutover -m ${manifestFile}`);
    } else {
      out.say(`Next: cloudphone-split verify --checksums -m ${manifestFile}`);
    }
    return 0;
  } finally {
    progress.close?.();
  }
}

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
            '0 when --jobs already keeps the target\'s cores busy, e.g. target and CLI on one small machine',
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
    io.exit(await applyCommand(planFile, opts, out, splitEnv(io.env, opts), io));
  });
}
