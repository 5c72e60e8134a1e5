import type { CommonOptions } from '../common.js';
import { consent, type Terminal } from '../consent.js';
import type { Output } from '../output.js';
import type { Plan, Step } from '../../plan/model.js';
import { selectServices, type ServiceSelection } from '../../plan/service-selection.js';
import { handlers } from '../../steps/index.js';
import { chooseProgress } from '../views/progress.js';
import { renderDryRun } from '../views/dry-run.js';
import { executeApply, prepareApply } from '../../run/apply.js';
import { cutoverProgress, doneStepIds, isApplied } from '../../run/applied-plan.js';

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
  const nothingLeft = prepared.finished || (await isApplied(plan, prepared.controlUrl));
  if (opts.dryRun && !nothingLeft) {
    // A run resumed skips what the journal records as done: the dry run leaves it out too.
    const done = prepared.resumed ? await doneStepIds(plan, prepared.controlUrl) : new Set<string>();
    const chosen = services ? selectServices(plan, services, done).steps : null;
    renderDryRun(chosen ? { ...plan, steps: plan.steps.filter((s) => chosen.has(s.id)) } : plan, handlers, out, done);
    return 0;
  }
  if (nothingLeft) {
    const cutover = await cutoverProgress(plan, prepared.controlUrl);
    if (cutover === 'unfinished') {
      out.say(
        `Split ${plan.name}: apply has nothing left to do, but its cutover stopped before the end: ${plan.source.database} stays fenced (writes refused) ` +
          'until `cloudphone-split cutover` finishes it.',
      );
      return 0;
    }
    out.say(
      `Split ${plan.name}: nothing left to do, every step of its plan is done (\`cloudphone-split status\` lists them)` +
        (cutover === 'not-started' ? '; next: `cloudphone-split cutover` switches the services to their new databases.' : '.'),
    );
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
