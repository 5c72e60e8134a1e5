import { tableKey } from '../catalog/model.js';
import type { CatalogIndex } from './catalog-index.js';
import type { ResolvedDenormalize, ResolvedForeignKey } from './resolve.js';

/**
 * The foreign keys of a service's tables that cannot exist in its database: an
 * owned table may reference only owned tables, a copy only other copies of the
 * same service. Constraints a partition inherits from its parent are counted once,
 * on the parent.
 */
export function droppedForeignKeys(
  owned: readonly string[],
  copies: readonly string[],
  index: CatalogIndex,
  ownerOf: (key: string) => string | null,
  denormalize: readonly ResolvedDenormalize[],
): ResolvedForeignKey[] {
  const ownedSet = new Set(owned);
  const copySet = new Set(copies);
  const out: ResolvedForeignKey[] = [];
  for (const key of [...owned, ...copies]) {
    const table = index.byKey.get(key);
    if (!table) continue;
    const isCopy = copySet.has(key);
    for (const c of table.constraints) {
      if (c.type !== 'f' || c.inherited || !c.references) continue;
      const ref = tableKey(c.references.table);
      const refOwner = ownerOf(index.rootOf(ref));
      const kept = isCopy ? copySet.has(ref) : ownedSet.has(ref);
      if (kept) continue;
      const reason = copySet.has(ref) || (isCopy && ownedSet.has(ref)) ? 'copy' : refOwner ? 'cross-service' : 'ignored';
      out.push({
        table: key,
        constraint: c.name,
        columns: [...c.columns],
        references: { table: ref, columns: [...c.references.columns] },
        referencedService: refOwner,
        reason,
        denormalizedBy: denormalize.filter((d) => d.table === key && usesKey(d, c.name, ref, c.columns)).map((d) => d.spec.from),
      });
    }
  }
  return out;
}

/** Whether a denormalized column is joined through this foreign key. */
function usesKey(d: ResolvedDenormalize, name: string, ref: string, columns: string[]): boolean {
  return d.foreignKey === name || (d.from.table === ref && sameColumns(d.on.map((p) => p.local), columns));
}

function sameColumns(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((c) => b.includes(c));
}
