import { dirname, join } from 'node:path';
import { makePlan } from '../plan/make.js';
import { writePlanFile } from '../plan/plan-file.js';
import type { Plan } from '../plan/model.js';
import type { Reporter } from './reporter.js';
import { lastSucceededPlan } from './applied-plan.js';
import { planHash } from '../engine/plan-hash.js';
import { controlUrlFor } from '../engine/control-url.js';

export interface PlanRunOptions {
  manifest: string;
  /** The plan file to write (default: `defaultPlanFile`). */
  output?: string;
  /** A `snapshot -o` file instead of the live source. */
  schema?: string;
}

/** `<name>.plan.json` beside the manifest: plans/<name>.plan.json for the default manifest. */
export function defaultPlanFile(manifestFile: string, name: string): string {
  return join(dirname(manifestFile), `${name}.plan.json`);
}

/** Plans the split of a manifest; `write` then writes the plan file (after the caller showed it). */
export async function planSplit(
  opts: PlanRunOptions,
  env: NodeJS.ProcessEnv,
  reporter: Reporter,
): Promise<{ plan: Plan; file: string; write(): Promise<void>; kept: boolean }> {
  const made = await makePlan({
    manifestFile: opts.manifest,
    schemaFile: opts.schema,
    planFile: opts.output ?? defaultPlanFile(opts.manifest, 'plan'),
    env,
  });
  const { split } = made;
  let plan = made.plan;
  for (const s of split.secrets) reporter.secrets.add(s);
  // A split applied already: apply refuses any other plan (its databases are in use), which the plan says first.
  const finished = opts.schema ? null : await lastSucceededPlan(plan.name, controlUrlFor(split.servers.source!, split.controlUrl));
  if (finished?.complete && planHash(finished.plan) !== planHash(plan)) {
    // The same manifest planned again: the source now holds the fence and backup marks the split made, so the plan differs, but apply of this manifest has nothing left to do.
    const same = finished.plan.manifest.text === split.text;
    plan = {
      ...plan,
      warnings: [
        same
          ? `split ${plan.name} is applied already, with this manifest: \`apply\` has nothing left to do (planning again sees the fence and backup marks the split made in the source, so this plan differs from the one applied)`
          : `split ${plan.name} is applied already, with another plan: \`apply\` refuses this one (its databases are in use and its tables fenced backups); ` +
            'nothing is left to do if the split is as wanted; to change it, roll it back first, or move more tables as a new split (a wave)',
        ...plan.warnings,
      ],
    };
  }
  const file = opts.output ?? defaultPlanFile(opts.manifest, plan.name);
  // The applied plan's own file is what `apply <plan file>` reruns (a Job run again): a plan apply refuses is not written over it.
  const kept = opts.output === undefined && finished?.complete === true && planHash(finished.plan) !== planHash(plan);
  return { plan, file, kept, write: () => (kept ? Promise.resolve() : writePlanFile(file, plan)) };
}
