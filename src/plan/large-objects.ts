import type { Catalog, Table } from '../catalog/model.js';
import { tableKey } from '../catalog/model.js';

/** A column that can hold a large object's OID: `oid`, or the `lo` extension's domain over it (names may be quoted and qualified). */
function holdsLargeObjects(type: string): boolean {
  const bare = type.replaceAll('"', '').replace(/^pg_catalog\./, '');
  return bare === 'oid' || /(^|\.)lo$/.test(bare);
}

/**
 * Large objects live in `pg_largeobject`, outside every table: copying a table copies the
 * OIDs in its `oid`/`lo` columns but not the objects, so the target would hold dangling
 * references. A moved or copied table with such a column is refused while the source
 * holds large objects (with the list and the fix); large objects with no such column to
 * move stay in the source, and the plan says so.
 */
export function largeObjectProblems(catalog: Catalog, movedOrCopied: Iterable<string>): { errors: string[]; warnings: string[] } {
  const byKey = new Map<string, Table>(catalog.tables.map((t) => [tableKey(t), t]));
  const columns: string[] = [];
  for (const key of new Set(movedOrCopied)) {
    const t = byKey.get(key);
    for (const c of t?.columns ?? []) if (holdsLargeObjects(c.type)) columns.push(`${key}.${c.name} (${c.type.replaceAll('"', '')})`);
  }
  const count = catalog.largeObjects ?? 0;
  if (columns.length > 0 && count > 0) {
    return {
      errors: [
        `the source holds ${count} large object${count === 1 ? '' : 's'}, and ${columns.join(', ')} can reference them: COPY carries the OIDs but not the objects (they live in pg_largeobject), so the target would hold dangling references. ` +
          'Convert the column to bytea before the split (UPDATE … SET data = lo_get(col)), or list the table under ignore and move its large objects by hand (lo_export / lo_import)',
      ],
      warnings: [],
    };
  }
  if (count > 0) {
    return { errors: [], warnings: [`the source holds ${count} large object${count === 1 ? '' : 's'}; no moved or copied table has an oid or lo column, so they stay in the source`] };
  }
  return { errors: [], warnings: [] };
}
