import type { Catalog } from '../catalog/model.js';
import { tableFingerprint } from '../catalog/fingerprint.js';
import type { Plan } from '../plan/model.js';

/** The moved or copied tables whose definition in the live source differs from the plan's fingerprint (or that are gone). */
export function changedTables(plan: Plan, live: Catalog): string[] {
  return Object.entries(plan.tableFingerprints)
    .filter(([key, fp]) => !live.tables.some((t) => `${t.schema}.${t.name}` === key) || tableFingerprint(live, key) !== fp)
    .map(([key]) => key);
}

/**
 * What changed in the source's moved and copied tables since the plan: logical
 * replication carries rows, not DDL, so a column added after `apply` would break the
 * subscription at its first write or be missing after cutover. Each changed table is
 * named, with the columns added or gone against `targetColumns` (the table's columns in
 * its new database, denormalized ones left out); other changes (types, constraints,
 * indexes) are named as such. Pure: empty when nothing changed.
 */
export function schemaDrift(plan: Plan, live: Catalog, targetColumns: ReadonlyMap<string, readonly string[]>): string[] {
  const extra = new Set(plan.services.flatMap((s) => s.denormalize.map((d) => `${d.table}.${d.column}`)));
  return changedTables(plan, live).map((key) => {
    const table = live.tables.find((t) => `${t.schema}.${t.name}` === key);
    if (!table) return `${key}: dropped`;
    const before = targetColumns.get(key)?.filter((c) => !extra.has(`${key}.${c}`));
    const now = table.columns.map((c) => c.name);
    const added = before ? now.filter((c) => !before.includes(c)) : [];
    const gone = before ? before.filter((c) => !now.includes(c)) : [];
    const parts = [...added.map((c) => `column ${c} added`), ...gone.map((c) => `column ${c} gone`)];
    return `${key}: ${parts.length > 0 ? parts.join(', ') : 'definition changed (types, constraints, indexes or triggers)'}`;
  });
}
