import type { GroupReason } from './model.js';
import { nameWords, singular, tableDomain, tableFamily } from './table-family.js';

/** A group while the grouping is being worked out (see TableGroup for the finished form). */
export interface DraftGroup {
  tables: string[];
  center: string | null;
  reason: GroupReason;
  absorbed: string[];
  byPrefix: string[];
}

/** Table key → table name, for the name heuristics. */
export type NameOf = (key: string) => string;

/**
 * The family most of `tables` share (`device` for devices, device_snapshots,
 * device_events), when at least two do. Ties go to the center's family, then
 * to the alphabetically first.
 */
export function sharedPrefix(tables: readonly string[], center: string | null, nameOf: NameOf): string | null {
  const counts = new Map<string, number>();
  for (const k of tables) {
    const f = tableFamily(nameOf(k));
    if (f !== null) counts.set(f, (counts.get(f) ?? 0) + 1);
  }
  const best = Math.max(0, ...counts.values());
  if (best < 2) return null;
  const tied = [...counts].filter(([, n]) => n === best).map(([f]) => f).sort();
  const own = center === null ? null : tableFamily(nameOf(center));
  return own !== null && tied.includes(own) ? own : tied[0]!;
}

/** How many of `tables` have the same (non-null) domain as `other`. */
export function domainMatches(tables: readonly string[], other: string, nameOf: NameOf): number {
  const d = tableDomain(nameOf(other));
  if (d === null) return 0;
  return tables.filter((k) => tableDomain(nameOf(k)) === d).length;
}

/** Whether some table of `tables` has `word` among the words of its name (`user_roles` names `role`). */
export function namesWord(tables: readonly string[], word: string, nameOf: NameOf): boolean {
  return tables.some((k) => nameWords(nameOf(k)).map(singular).includes(word));
}

/** Compares two keys by a fixed order (catalog order), for deterministic choices. */
export function byOrder(order: ReadonlyMap<string, number>): (a: string, b: string) => number {
  return (a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0);
}
