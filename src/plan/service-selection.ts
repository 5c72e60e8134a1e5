import type { Plan, Step, StepKind } from './model.js';
import { closest } from '../manifest/closest.js';
import { BadInputError } from '../errors.js';

/**
 * Links between two services' steps that only order a run of the whole plan: every
 * fence before any copy (one snapshot after all fences), every service's row counts
 * checked before any config is repointed. A run of some services leaves the other
 * services' steps out and does not wait for them.
 */
const ORDER_ONLY: ReadonlyArray<readonly [StepKind, StepKind]> = [
  ['copy_data', 'fence_source'],
  ['start_server_copy', 'fence_source'],
  ['fence_source', 'create_schema'],
  ['fence_source', 'fence_source'],
  ['repoint_config', 'verify_rowcounts'],
];

const orderOnly = (step: Step, dep: Step): boolean => ORDER_ONLY.some(([a, b]) => step.kind === a && dep.kind === b);

/**
 * The steps of a plan that a run of some of its services executes. Invariants: every
 * dependency of a selected step is selected, done, or in `waived` (an ordering-only
 * link to another service's step); a shared step (no service) is selected only when
 * all its dependencies are selected or done, so `schedule_retention` runs with the
 * last service.
 */
export interface ServiceSelection {
  services: string[];
  steps: ReadonlySet<string>;
  waived: ReadonlySet<string>;
  /** Shared steps left for a later run (schedule_retention until every service is applied). */
  heldBack: Step[];
  /** Services whose every apply step is done once this run succeeds, in plan order. */
  appliedAfter: string[];
}

const isApplyStep = (s: Step): boolean => (s.phase ?? 'apply') === 'apply';

/** `a,b` → the names, trimmed, without empties or duplicates. */
export function parseServiceList(value: string): string[] {
  return [...new Set(value.split(',').map((s) => s.trim()).filter((s) => s.length > 0))];
}

/** Refuses (exit 2) names that are not services of the plan, suggesting the closest one. */
export function checkServiceNames(plan: Pick<Plan, 'name' | 'services'>, names: string[]): void {
  const known = plan.services.map((s) => s.name);
  if (names.length === 0) throw new BadInputError('--service needs at least one service name', `the services of split ${plan.name}: ${known.join(', ')}`);
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length === 0) return;
  const lines = unknown.map((n) => {
    // A typo, or a short form of the name (`billing` for billing-service).
    const near = closest(n, known) ?? (known.filter((k) => k.toLowerCase().includes(n.toLowerCase())).length === 1 ? known.find((k) => k.toLowerCase().includes(n.toLowerCase()))! : null);
    return `"${n}" is not a service of split ${plan.name}${near ? ` (did you mean ${near}?)` : ''}`;
  });
  throw new BadInputError(lines.join('\n'), `the services of split ${plan.name}: ${known.join(', ')}`);
}

/** The services whose every apply step is in `done`. */
export function appliedServices(plan: Pick<Plan, 'services' | 'steps'>, done: ReadonlySet<string>): string[] {
  return plan.services
    .map((s) => s.name)
    .filter((name) => plan.steps.every((s) => s.service !== name || !isApplyStep(s) || done.has(s.id)));
}

/**
 * Why `cutover` cannot run yet (null: every apply step is done). Cutover fences, catches
 * up and switches every service of the split at once, so every service must replicate
 * first: the error names those not applied (no replication runs for them) and says how
 * to apply them. Exit 2. Pure.
 */
export function cutoverNotReady(plan: Pick<Plan, 'name' | 'services' | 'steps'>, done: ReadonlySet<string>): BadInputError | null {
  const left = plan.steps.filter((s) => isApplyStep(s) && !done.has(s.id));
  if (left.length === 0) return null;
  const applied = new Set(appliedServices(plan, done));
  const missing = plan.services.map((s) => s.name).filter((n) => !applied.has(n));
  if (missing.length === 0) {
    return new BadInputError(
      `apply has not finished: ${left.length} of ${plan.steps.filter(isApplyStep).length} steps are left (first: ${left[0]!.id})`,
      'rerun `cloudphone-split apply` to finish it; cutover starts once replication runs',
    );
  }
  const some = applied.size > 0 ? ` (replicating: ${[...applied].join(', ')})` : '';
  return new BadInputError(
    `not cutting over split ${plan.name}: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not applied yet, so no replication runs for ${missing.length === 1 ? 'it' : 'them'}${some}; ` +
      'cutover fences the source and switches every service of the split at once; nothing was changed',
    `apply ${missing.length === 1 ? 'it' : 'them'} first: cloudphone-split apply --service ${missing.join(',')} (\`cloudphone-split status\` shows which services replicate), then run cutover again`,
  );
}

/**
 * Selects the apply steps of `services` and the shared steps they need (preflight), with
 * their dependencies; `done` holds the ids the journal records as done. An online plan's
 * apply steps are per service too (database, schema, keys, publication, slot and
 * subscription, indexes, grant): a run of some services starts only their replication;
 * its cutover steps are never selected here. Refuses (exit 2) unknown names, an offline
 * plan whose one fence covers every service, and a service that needs another service's
 * step not yet done (two services repointing one config file, one after the other): the
 * message names the services to add. Pure.
 */
export function selectServices(plan: Plan, services: string[], done: ReadonlySet<string>): ServiceSelection {
  checkServiceNames(plan, services);
  if (plan.steps.some((s) => isApplyStep(s) && s.kind === 'fence_source' && s.service === undefined)) {
    // A plan made before fences were per service: its one fence would fence every service's tables.
    throw new BadInputError('this plan fences every service\'s tables in one step, so it cannot be applied one service at a time', 'plan again (cloudphone-split plan): a new plan fences each service on its own');
  }
  const chosen = new Set(services);
  const byId = new Map(plan.steps.map((s) => [s.id, s]));
  const steps = new Set<string>();
  const waived = new Set<string>();
  const needs = new Map<string, Set<string>>();
  const include = (step: Step): void => {
    if (steps.has(step.id)) return;
    steps.add(step.id);
    for (const id of step.dependsOn) {
      const dep = byId.get(id);
      if (!dep) continue; // the executor refuses a broken graph
      if (dep.service === undefined || chosen.has(dep.service)) include(dep);
      else if (orderOnly(step, dep)) waived.add(id);
      else if (!done.has(id)) needs.set(dep.service, (needs.get(dep.service) ?? new Set()).add(`${step.id} waits for ${id}`));
    }
  };
  for (const s of plan.steps) if (isApplyStep(s) && s.service !== undefined && chosen.has(s.service)) include(s);
  const heldBack: Step[] = [];
  for (const s of plan.steps) {
    if (!isApplyStep(s) || s.service !== undefined || steps.has(s.id)) continue;
    if (s.dependsOn.every((d) => steps.has(d) || done.has(d))) include(s);
    else if (!done.has(s.id)) heldBack.push(s);
  }
  if (needs.size > 0) {
    const add = [...needs.keys()];
    throw new BadInputError(
      `${services.join(', ')} cannot be applied without ${add.join(', ')}:\n  ${[...needs.values()].flatMap((x) => [...x]).join('\n  ')}`,
      `apply them together: --service ${[...services, ...add].join(',')}`,
    );
  }
  const after = new Set([...done, ...steps]);
  return { services, steps, waived, heldBack, appliedAfter: appliedServices(plan, after) };
}

/**
 * The plan as seen by a check of some services (`verify --service`): only those
 * services, their steps, and the shared steps. The journal keeps the whole plan.
 */
export function servicePlanView(plan: Plan, services: string[]): Plan {
  checkServiceNames(plan, services);
  const chosen = new Set(services);
  return {
    ...plan,
    services: plan.services.filter((s) => chosen.has(s.name)),
    steps: plan.steps.filter((s) => s.service === undefined || chosen.has(s.service)),
  };
}
