import type { Catalog } from '../catalog/model.js';
import { tableKey } from '../catalog/model.js';
import type { RemainingForeignKey } from '../plan/model.js';

/**
 * The foreign keys that tables this plan does not move have to the tables it moves
 * (SPEC §7): they stay in the source, checked against the fenced backups, until the
 * backups are pruned (which drops them by name). `moved` maps each moved table key,
 * partitions included, to its service; `earlier` each table an earlier split moved to
 * that split. A constraint a partition inherits is listed once, on its parent. Pure.
 */
export function remainingForeignKeys(
  catalog: Catalog,
  moved: ReadonlyMap<string, string>,
  earlier: ReadonlyMap<string, string>,
): RemainingForeignKey[] {
  const out: RemainingForeignKey[] = [];
  for (const t of catalog.tables) {
    const key = tableKey(t);
    if (moved.has(key)) continue;
    for (const c of t.constraints) {
      if (c.type !== 'f' || c.inherited || !c.references) continue;
      const ref = tableKey(c.references.table);
      const service = moved.get(ref);
      if (service === undefined) continue;
      out.push({
        table: key,
        constraint: c.name,
        columns: [...c.columns],
        references: `${ref}(${c.references.columns.join(', ')})`,
        referencedService: service,
        movedBy: earlier.get(key) ?? null,
      });
    }
  }
  return out.sort((a, b) => a.table.localeCompare(b.table) || a.constraint.localeCompare(b.constraint));
}
