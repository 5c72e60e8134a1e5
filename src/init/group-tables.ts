import type { Catalog } from '../catalog/model.js';
import { tableKey } from '../catalog/model.js';
import { indexCatalog, type CatalogIndex } from '../manifest/catalog-index.js';
import { byOrder, sharedPrefix, type DraftGroup, type NameOf } from './draft-group.js';
import { foreignKeyGraph, type ForeignKeyGraph } from './foreign-key-graph.js';
import { hubGroups } from './hub-groups.js';
import { legacyReason } from './legacy-table.js';
import { splitAtTableNames } from './table-family.js';
import { placeLoneTables } from './lone-tables.js';
import { mergeDependentGroups } from './merge-groups.js';
import type { CrossForeignKey, Grouping, IgnoredRelation, TableGroup } from './model.js';
import { joinList } from './group-comments.js';
import { groupKeys, serviceName } from './naming.js';
import { placeViews } from './view-placement.js';

/**
 * Proposes which tables of `schemas` belong together (the grouping behind
 * `init`). Pure: reads only the catalog.
 *
 * 1. Tables that look like bookkeeping or leftovers (migration history,
 *    `legacy_*`, `*_old`, `tmp_*`...) are proposed for ignore.
 * 2. Hubs (tables at least two others reference) each anchor a group; the
 *    other tables, in the components left once the hubs are cut out, join the
 *    hub they hang off (see hubGroups), so `users`, referenced by everything,
 *    does not glue everything into one service.
 * 3. A group referenced only by one other group, and referencing nothing else,
 *    folds into it unless its own name prefix says otherwise (mergeDependentGroups).
 * 4. Tables without foreign keys join by name prefix (placeLoneTables).
 * 5. Views reading one group move with it; views over several groups (or over a
 *    group and what stays in the source) are proposed for ignore.
 */
export function groupTables(catalog: Catalog, schemas: readonly string[]): Grouping {
  const index = indexCatalog(catalog, schemas);
  const realName: NameOf = (key) => index.byKey.get(key)?.name ?? key;
  // The name heuristics see `channelmembers` as channel_members (table-family.ts).
  const words = splitAtTableNames(index.listable.map((t) => t.name));
  const nameOf: NameOf = (key) => words(realName(key));
  const ignored: IgnoredRelation[] = [];
  const nodes: string[] = [];
  for (const t of index.listable) {
    // A partitioned table is deliberate structure, whatever its name (Hatchet's live `v1_task_events_olap_tmp`).
    const why = t.kind === 'p' ? null : legacyReason(t.name);
    if (why) ignored.push({ key: tableKey(t), kind: 'table', reason: why });
    else nodes.push(tableKey(t));
  }
  const graph = foreignKeyGraph(catalog, index, nodes);
  const first = hubGroups(graph, nameOf);
  const merged = mergeDependentGroups(first.groups, graph, nameOf);
  const drafts = sortGroups(placeLoneTables(merged, first.lone, nameOf), new Map(nodes.map((k, i) => [k, i])));
  const keys = groupKeys(drafts, nameOf);
  const groups: TableGroup[] = drafts.map((d, i) => ({
    key: keys[i]!,
    reason: d.reason,
    center: d.center,
    tables: d.tables,
    prefix: sharedPrefix(d.tables, d.center, nameOf),
    absorbed: d.absorbed.filter((k) => k !== d.center),
    byPrefix: d.byPrefix,
    views: [],
  }));
  const groupOf = new Map<string, number>();
  groups.forEach((g, i) => g.tables.forEach((t) => groupOf.set(t, i)));
  const views = placeViews(index, (k) => groupOf.get(k) ?? null);
  for (const [g, list] of views.byGroup) groups[g]!.views = list;
  for (const v of views.stranded) {
    const reads = [...v.groups].map(([g, t]) => `${realName(t)} (${serviceName(groups[g]!.key)})`);
    const stays = v.staying.map((k) => index.byKey.get(k)?.name ?? index.viewsByKey.get(k)?.name ?? k);
    const reason =
      v.groups.size > 1
        ? `a view over several services: reads ${joinList(reads)}`
        : `a view reading ${joinList(reads)} and ${joinList(stays)}, which ${stays.length === 1 ? 'stays' : 'stay'} in the source`;
    ignored.push({ key: v.key, kind: 'view', reason });
  }
  return { groups, ignored, foreignKeys: crossKeys(graph, groupOf, index) };
}

/** Largest groups first; the catch-all last; ties by the catalog order of their first table. Tables: center first, then catalog order. */
function sortGroups(groups: DraftGroup[], order: ReadonlyMap<string, number>): DraftGroup[] {
  const cmp = byOrder(order);
  const sorted = groups.map((g) => ({
    ...g,
    tables: [...g.tables].sort((a, b) => (a === g.center ? -1 : b === g.center ? 1 : cmp(a, b))),
    absorbed: [...g.absorbed].sort(cmp),
    byPrefix: [...g.byPrefix].sort(cmp),
  }));
  const rank = (g: DraftGroup): number => (g.reason === 'rest' ? 1 : 0);
  return sorted.sort((a, b) => rank(a) - rank(b) || b.tables.length - a.tables.length || cmp(a.tables[0]!, b.tables[0]!));
}

function crossKeys(graph: ForeignKeyGraph, groupOf: ReadonlyMap<string, number>, index: CatalogIndex): CrossForeignKey[] {
  const out: CrossForeignKey[] = [];
  const all = [...graph.edges.map((e) => ({ ...e, target: null })), ...graph.external];
  const order = new Map(index.listable.map((t, i) => [tableKey(t), i]));
  all.sort((a, b) => (order.get(a.from) ?? 0) - (order.get(b.from) ?? 0) || (a.constraint < b.constraint ? -1 : 1));
  for (const e of all) {
    const from = groupOf.get(e.from)!;
    const to = e.target ?? groupOf.get(e.to)!;
    if (to === from) continue;
    out.push({
      table: e.from,
      constraint: e.constraint,
      columns: e.columns,
      references: { table: e.to, columns: e.refColumns },
      fromGroup: from,
      toGroup: to,
    });
  }
  return out;
}
