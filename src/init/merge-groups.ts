import type { ForeignKeyGraph } from './foreign-key-graph.js';
import { namesWord, sharedPrefix, type DraftGroup, type NameOf } from './draft-group.js';

/**
 * Second pass: folds a group into its only neighbour when that neighbour
 * references it and it references no one else, so the data only one group uses
 * travels with that group (tenants and departments, only referenced by the
 * user tables, go with them). A group keeps its own service when its tables
 * share a name prefix of their own that the neighbour's table names do not
 * mention: devices, device_snapshots and device_events stay apart from billing
 * even if only orders reference devices, but roles and role_permissions join
 * the users group that holds user_roles. Smallest groups fold first; the merged
 * group keeps the center of the larger one, and lists the folded group's tables
 * as `absorbed` (only the other group's tables reference them). Deterministic.
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
  const neighbours = groups.map(() => new Set<number>());
  const referencedBy = groups.map(() => new Set<number>());
  for (const e of graph.edges) {
    const a = groupOf.get(e.from);
    const b = groupOf.get(e.to);
    if (a === undefined || b === undefined || a === b) continue;
    neighbours[a]!.add(b);
    neighbours[b]!.add(a);
    referencedBy[b]!.add(a);
  }
  let pick: { small: number; into: number } | null = null;
  for (let i = 0; i < groups.length; i++) {
    if (neighbours[i]!.size !== 1) continue;
    const into = [...neighbours[i]!][0]!;
    if (!referencedBy[i]!.has(into)) continue;
    const g = groups[i]!;
    const prefix = sharedPrefix(g.tables, g.center, nameOf);
    if (prefix !== null && !namesWord(groups[into]!.tables, prefix, nameOf)) continue;
    if (pick === null || smaller(g, groups[pick.small]!, nameOf)) pick = { small: i, into };
  }
  if (pick === null) return null;
  const { small, into } = pick;
  const a = groups[small]!;
  const b = groups[into]!;
  const [big, little] = a.tables.length > b.tables.length ? [a, b] : [b, a];
  const merged: DraftGroup = {
    tables: [...big.tables, ...little.tables],
    center: big.center,
    reason: big.reason,
    absorbed: [...b.absorbed, ...a.tables],
    byPrefix: [...big.byPrefix, ...little.byPrefix],
  };
  return groups.flatMap((g, i) => (i === into ? [merged] : i === small ? [] : [g]));
}

function smaller(a: DraftGroup, b: DraftGroup, nameOf: NameOf): boolean {
  if (a.tables.length !== b.tables.length) return a.tables.length < b.tables.length;
  return nameOf(a.tables[0]!) < nameOf(b.tables[0]!);
}
