import type { Plan, RepointConfigStep } from '../plan/model.js';
import type { CreatedObject } from '../steps/handler.js';
import type { RollbackInventory } from './rollback-inventory.js';
import { isConfigBackup } from '../config/backup.js';

/** What `rollback --service` undoes: the part of the journal's inventory that belongs to those services. */
export interface ServiceScope {
  services: string[];
  databases: CreatedObject[];
  adopted: CreatedObject[];
  roles: CreatedObject[];
  /** The services' config backups (journal records), their files restored. */
  config: CreatedObject[];
  /** Their moved tables, fenced in the source. */
  fenceTables: string[];
  /** The fenced tables of the other services (the fence record keeps them). */
  otherFenceTables: string[];
  /** Their apply steps: the journal makes them not done again. */
  stepIds: string[];
  restarts: Array<{ service: string; command: string }>;
  /** Why the rollback of only these services is refused (empty: it may go ahead). */
  refusals: string[];
}

const tableNames = (plan: Plan, service: string, what: 'tables' | 'copies'): string[] => (plan.services.find((s) => s.name === service)?.[what] ?? []).map((t) => t.name);

/**
 * The inventory's objects that belong to `services` of `plan` (by database, role, config
 * file and fenced table), and the reasons not to roll back only them: the old database
 * already retired as a whole (schedule_retention ran), another service still applied
 * that copied or denormalized from their tables (offline: an online service reads them
 * from the source until cutover), or that repointed a config file after them. `done` holds the ids of done steps. Pure.
 */
export function serviceScope(plan: Plan, inv: RollbackInventory, services: string[], done: ReadonlySet<string>): ServiceScope {
  const chosen = new Set(services);
  const refusals: string[] = [];
  const applied = (service: string) => plan.steps.some((s) => s.service === service && done.has(s.id));
  // Online, before cutover (onlineScope refuses after it): each service replicates its copies and fills its
  // denormalized columns from the source itself, which keeps every table; no applied service needs theirs.
  const others = plan.mode === 'online' ? [] : plan.services.map((s) => s.name).filter((n) => !chosen.has(n) && applied(n));

  if (inv.prior !== null || inv.retention?.state === 'scheduled') {
    refusals.push(
      plan.steps.some((s) => s.kind === 'schedule_retention' && s.retire !== false)
        ? `every service of split ${plan.name} is applied and ${plan.source.database} is kept as a read-only backup (schedule_retention ran): it is retired as a whole, so only the whole split can be rolled back (rollback without --service)`
        : `every service of split ${plan.name} is applied and its moved tables are kept in ${plan.source.database} as one backup (schedule_retention ran): only the whole split can be rolled back (rollback without --service)`,
    );
  }
  const owner = new Map<string, string>();
  for (const s of plan.services) for (const t of s.tables) owner.set(t.name, s.name);
  for (const other of others) {
    const copied = tableNames(plan, other, 'copies').filter((t) => chosen.has(owner.get(t) ?? ''));
    if (copied.length > 0) refusals.push(`${other} (applied) copied ${copied.join(', ')} from them: roll it back too (--service ${[...services, other].join(',')}) or keep them`);
    const from = (plan.services.find((s) => s.name === other)?.denormalize ?? [])
      .filter((d) => chosen.has(owner.get(d.from.slice(0, d.from.lastIndexOf('.'))) ?? ''))
      .map((d) => `${d.table}.${d.column} from ${d.from}`);
    if (from.length > 0) refusals.push(`${other} (applied) denormalized ${from.join(', ')}: roll it back too (--service ${[...services, other].join(',')}) or keep them`);
  }

  const repoints = plan.steps.filter((s): s is RepointConfigStep => s.kind === 'repoint_config');
  const mine = repoints.filter((s) => chosen.has(s.service ?? s.target.service));
  const myFiles = new Set(mine.flatMap((s) => s.edits.map((e) => e.file)));
  // A file several services repoint is edited in plan order: what comes after theirs would be undone with it.
  const position = new Map(plan.steps.map((s, i) => [s.id, i]));
  const firstOfMine = new Map<string, number>();
  for (const s of mine) for (const e of s.edits) if (!firstOfMine.has(e.file)) firstOfMine.set(e.file, position.get(s.id)!);
  for (const s of repoints) {
    const service = s.service ?? s.target.service;
    if (chosen.has(service) || !done.has(s.id)) continue;
    const shared = s.edits.map((e) => e.file).filter((f) => myFiles.has(f) && position.get(s.id)! > firstOfMine.get(f)!);
    if (shared.length > 0) refusals.push(`${service} (applied) repointed ${[...new Set(shared)].join(', ')} after them: roll it back too (--service ${[...services, service].join(',')})`);
  }
  // A backup record is named `<file>#<hash before the step's first edit of it>`.
  const backupNames = new Set<string>();
  for (const s of mine) {
    const firsts = new Map<string, string>();
    for (const e of s.edits) if (!firsts.has(e.file)) firsts.set(e.file, `${e.file}#${e.beforeHash}`);
    for (const name of firsts.values()) backupNames.add(name);
  }
  const config = inv.config.filter((o) => backupNames.has(o.name) && isConfigBackup(o.detail));

  const targets = plan.services.filter((s) => chosen.has(s.name));
  const isTarget = (o: CreatedObject) => targets.some((t) => t.database === o.name && t.server === o.server);
  const keptRoles = new Set(plan.services.filter((s) => !chosen.has(s.name)).flatMap((s) => (s.role ? [`${s.server}\0${s.role}`] : [])));
  const roles = inv.roles.filter((o) => targets.some((t) => t.role === o.name && t.server === o.server) && !keptRoles.has(`${o.server}\0${o.name}`));

  const fences = plan.steps.filter((s) => s.kind === 'fence_source');
  const fenceTables = fences.filter((s) => s.service !== undefined && chosen.has(s.service)).flatMap((s) => (s.kind === 'fence_source' ? s.tables : []));
  const recorded = Array.isArray(inv.fence?.detail?.tables) ? (inv.fence.detail.tables as unknown[]).filter((t): t is string => typeof t === 'string') : [];
  const mineFenced = new Set(fenceTables);

  return {
    services,
    databases: inv.databases.filter(isTarget),
    adopted: inv.adopted.filter(isTarget),
    roles,
    config,
    fenceTables: fenceTables.filter((t) => recorded.includes(t)),
    otherFenceTables: recorded.filter((t) => !mineFenced.has(t)),
    stepIds: plan.steps.filter((s) => s.service !== undefined && chosen.has(s.service) && (s.phase ?? 'apply') === 'apply').map((s) => s.id),
    restarts: mine.filter((s) => done.has(s.id) && s.restart).map((s) => ({ service: s.service ?? s.target.service, command: s.restart! })),
    refusals,
  };
}
