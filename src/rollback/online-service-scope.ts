import type { Plan, StartReplicationStep } from '../plan/model.js';
import type { CreatedObject } from '../steps/handler.js';
import { BadInputError } from '../errors.js';
import { Pools } from '../pg/pools.js';
import { dropReplicationOf } from '../online/drop-replication.js';

/** What `rollback --service` of an online split undoes besides databases and roles: those services' forward replication. */
export interface OnlineServiceScope {
  /** Their start_replication steps (none for an offline plan). */
  steps: StartReplicationStep[];
  /** The journal's records of their publications, slots and subscriptions among `created`. */
  recorded(created: CreatedObject[]): CreatedObject[];
}

/**
 * The forward replication of `services` in an online plan, before its cutover. Refuses
 * (exit 2, nothing changed) once any cutover step is done: the fence, the catch-up,
 * `schedule_retention` and the reverse path (unfence_source, restore_config) cover every
 * service of the split at once, so only the whole split can go back through reverse
 * replication. `done` holds the ids of done steps. Pure.
 */
export function onlineScope(plan: Plan, done: ReadonlySet<string>, services: string[]): OnlineServiceScope {
  if (plan.mode !== 'online') return { steps: [], recorded: () => [] };
  const cut = plan.steps.filter((s) => (s.phase ?? 'apply') !== 'apply' && done.has(s.id));
  if (cut.length > 0) {
    throw new BadInputError(
      `split ${plan.name} is cut over (or its cutover has started: ${cut[0]!.id} is done), so ${services.join(', ')} cannot be rolled back alone: ` +
        'the fence of the source, its catch-up and the way back through reverse replication (the source unfenced, the config restored) cover every service of the split at once; nothing was changed',
      'roll back the whole split (rollback without --service): it brings every write made since cutover back to the source',
    );
  }
  const chosen = new Set(services);
  const steps = plan.steps.filter((s): s is StartReplicationStep => s.kind === 'start_replication' && chosen.has(s.target.service));
  const names = new Set(steps.flatMap((s) => [`publication\0source\0${s.publication}`, `slot\0source\0${s.slot}`, `subscription\0${s.target.server}\0${s.subscription}`]));
  return { steps, recorded: (created) => created.filter((o) => names.has(`${o.kind}\0${o.server}\0${o.name}`)) };
}

/**
 * Drops the subscription, slots, publication and replication role of each of `steps`
 * (those that exist), one service after the other; the other services' replication is
 * not touched. Returns what was dropped (`subscription x`, `slot y`...).
 */
export async function dropServiceReplication(servers: Record<string, string>, steps: StartReplicationStep[]): Promise<string[]> {
  const pools = new Pools(servers, 2);
  try {
    const dropped: string[] = [];
    for (const s of steps) dropped.push(...(await dropReplicationOf(pools, s)).dropped);
    return dropped;
  } finally {
    await pools.end();
  }
}
