import type { ForeignKeyGraph } from './foreign-key-graph.js';
import { namesWord, sharedPrefix, type DraftGroup, type NameOf } from './draft-group.js';

/**
 * Second pass: folds a group into a larger one when that one is the only group
 * referencing it and it references no other group: data that only one group
 * uses travels with that group (tenants and quotas, referenced only by the user
 * tables, go with them). A group keeps its own service when its tables share a
 * name prefix of their own that the other group's table names do not mention:
 * devices, device_snapshots and device_events stay apart from billing even if
 * only orders reference devices, but roles and role_permissions join the users
 * group that holds user_roles. A group that references another (a consumer of
 * its data) never folds. Smallest groups fold first; the larger group keeps its
 * center and lists the folded tables as `absorbed`. Deterministic.
 */
export function mergeDependentGroups(groups: DraftGroup[], graph: ForeignKeyGraph, nameOf: NameOf): DraftGroup[] {
  let current = [...groups];
  for (;;) {
    const next = mergeOne(current, graph, nameOf);
    if (next === null) return current;
    current = next;
  }
}

function mergeOne(groups: DraftGroup[], graph: ForeignKeyGraph, nameOf: NameOf): DraftGroup[] | null {
  const groupOf = new Map<string, number>();
  groups.forEach((g, i) => g.tables.forEach((t) => groupOf.set(t, i)));
  const references = groups.map(() => new Set<number>());
  const referencedBy = groups.map(() => new Set<number>());
  for (const e of graph.edges) {
    const a = groupOf.get(e.from);
    const b = groupOf.get(e.to);
    if (a === undefined || b === undefined || a === b) continue;
    references[a]!.add(b);
    referencedBy[b]!.add(a);
  }
  let pick: { small: number; into: number } | null = null;
  for (let i = 0; i < groups.length; i++) {
    if (references[i]!.size !== 0 || referencedBy[i]!.size !== 1) continue;
    const into = [...referencedBy[i]!][0]!;
    const g = groups[i]!;
    if (g.tables.length >= groups[into]!.tables.length) continue;
    const prefix = sharedPrefix(g.tables, g.center, nameOf);
    if (prefix !== null && !namesWord(groups[into]!.tables, prefix, nameOf)) continue;
    if (pick === null || smaller(g, groups[pick.small]!, nameOf)) pick = { small: i, into };
  }
  if (pick === null) return null;
  const { small, into } = pick;
  const a = groups[small]!;
  const b = groups[into]!;
  const merged: DraftGroup = {
    tables: [...b.tables, ...a.tables],
    center: b.center,
    reason: b.reason,
    absorbed: [...b.absorbed, ...a.tables],
    byPrefix: [...b.byPrefix, ...a.byPrefix],
  };
  return groups.flatMap((g, i) => (i === into ? [merged] : i === small ? [] : [g]));
}

function smaller(a: DraftGroup, b: DraftGroup, nameOf: NameOf): boolean {
  if (a.tables.length !== b.tables.length) return a.tables.length < b.tables.length;
  return nameOf(a.tables[0]!) < nameOf(b.tables[0]!);
}
