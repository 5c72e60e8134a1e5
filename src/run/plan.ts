import { dirname, join } from 'node:path';
import { makePlan } from '../plan/make.js';
import { writePlanFile } from '../plan/plan-file.js';
import type { Plan } from '../plan/model.js';
import type { Reporter } from './reporter.js';

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
export async function planSplit(opts: PlanRunOptions, env: NodeJS.ProcessEnv, reporter: Reporter): Promise<{ plan: Plan; file: string; write(): Promise<void> }> {
  const { plan, split } = await makePlan({
    manifestFile: opts.manifest,
    schemaFile: opts.schema,
    planFile: opts.output ?? defaultPlanFile(opts.manifest, 'plan'),
    env,
  });
  for (const s of split.secrets) reporter.secrets.add(s);
  const file = opts.output ?? defaultPlanFile(opts.manifest, plan.name);
  return { plan, file, write: () => writePlanFile(file, plan) };
}
