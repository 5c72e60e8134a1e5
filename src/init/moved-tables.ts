import type { Catalog } from '../catalog/model.js';
import { tableKey } from '../catalog/model.js';

/** Keys of the tables another split's fence guards, and of their partitions at any depth. */
export function movedTables(catalog: Catalog): Set<string> {
  const fenced = new Set((catalog.fences ?? []).map((f) => f.table));
  const parent = new Map(catalog.tables.flatMap((t) => (t.partitionOf ? [[tableKey(t), tableKey(t.partitionOf.parent)] as const] : [])));
  const under = (key: string): boolean => {
    for (let k: string | undefined = key, depth = 0; k !== undefined && depth < 100; k = parent.get(k), depth++) if (fenced.has(k)) return true;
    return false;
  };
  return new Set(catalog.tables.map(tableKey).filter(under));
}

/** The catalog without the tables earlier splits moved: what a proposal for the next split works from. */
export function withoutMovedTables(catalog: Catalog): Catalog {
  const moved = movedTables(catalog);
  return moved.size > 0 ? { ...catalog, tables: catalog.tables.filter((t) => !moved.has(tableKey(t))) } : catalog;
}
