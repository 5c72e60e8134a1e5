import type { Catalog, QualifiedName, Table, View } from '../catalog/model.js';
import { tableKey } from '../catalog/model.js';
import { manifestName } from './names.js';

/**
 * The catalog seen through a manifest's `source.schemas`. Invariants: `listable`
 * holds the tables of those schemas that are not partitions (the ones a manifest
 * names), in catalog order; partitions, at any depth, are reached only through
 * `partitionsOf` and `rootOf`.
 */
export interface CatalogIndex {
  schemas: readonly string[];
  byKey: Map<string, Table>;
  listable: Table[];
  partitions: Table[];
  views: View[];
  viewsByKey: Map<string, View>;
  /** The topmost partitioned ancestor of a partition, or the key itself. */
  rootOf(key: string): string;
  /** Every partition below `key`, parents before their own partitions. */
  partitionsOf(key: string): string[];
  /** How to write the table in the manifest (schema-qualified only when the name alone is ambiguous). */
  display(t: QualifiedName): string;
  /** Foreign tables of the schemas: named in an entry, they are said to be such (nothing moves them). */
  foreign?: ReadonlyArray<QualifiedName & { server: string }>;
}

/**
 * Where a table's rows end up, as far as views and denormalize care: with one
 * service, in the source (ignored, or outside the split), or not settled because
 * the manifest has a problem about it already (unassigned, owned twice).
 */
export type Placement = { service: string } | 'stays' | 'unsettled';

export function indexCatalog(catalog: Catalog, schemas: readonly string[]): CatalogIndex {
  const byKey = new Map(catalog.tables.map((t) => [tableKey(t), t]));
  const children = new Map<string, string[]>();
  for (const t of catalog.tables) {
    if (!t.partitionOf) continue;
    const parent = tableKey(t.partitionOf.parent);
    const list = children.get(parent) ?? [];
    list.push(tableKey(t));
    children.set(parent, list);
  }
  const inSchemas = (t: QualifiedName): boolean => schemas.includes(t.schema);
  const nameCount = new Map<string, number>();
  for (const t of catalog.tables) if (inSchemas(t) && !t.partitionOf) nameCount.set(t.name, (nameCount.get(t.name) ?? 0) + 1);
  const views = catalog.views.filter(inSchemas);

  const rootOf = (key: string): string => {
    let k = key;
    for (let depth = 0; depth < 100; depth++) {
      const parent = byKey.get(k)?.partitionOf?.parent;
      if (!parent) return k;
      k = tableKey(parent);
    }
    return k;
  };
  const partitionsOf = (key: string): string[] => {
    const out: string[] = [];
    const walk = (k: string): void => {
      for (const c of children.get(k) ?? []) {
        out.push(c);
        walk(c);
      }
    };
    walk(key);
    return out;
  };
  return {
    schemas,
    byKey,
    listable: catalog.tables.filter((t) => inSchemas(t) && !t.partitionOf),
    partitions: catalog.tables.filter((t) => inSchemas(t) && t.partitionOf),
    views,
    viewsByKey: new Map(views.map((v) => [tableKey(v), v])),
    rootOf,
    partitionsOf,
    display: (t) => manifestName(t, (nameCount.get(t.name) ?? 0) > 1 || !schemas.includes(t.schema)),
    foreign: catalog.foreignTables ?? [],
  };
}
