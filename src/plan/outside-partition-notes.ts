import type { Catalog } from '../catalog/model.js';
import { parseKey, tableKey } from '../catalog/model.js';
import { withPartitions } from './foreign-keys.js';
import type { ResolvedServiceInput } from './input.js';

/**
 * One line per partitioned table of a service with partitions outside `source.schemas`:
 * they move with it (SPEC §1), and their schemas are created in the service's database.
 * Pure.
 */
export function outsidePartitionNotes(catalog: Catalog, services: readonly ResolvedServiceInput[]): string[] {
  const listed = new Set(catalog.schemas);
  const isRoot = new Set(catalog.tables.filter((t) => t.partitionOf === null && listed.has(t.schema)).map(tableKey));
  const out: string[] = [];
  for (const s of services) {
    const roots = [...s.tables, ...s.copies].filter((k) => isRoot.has(k));
    for (const root of [...new Set(roots)]) {
      const outside = withPartitions(catalog, [root]).filter((k) => !listed.has(parseKey(k).schema));
      if (outside.length === 0) continue;
      const schemas = [...new Set(outside.map((k) => parseKey(k).schema))].sort();
      out.push(
        `${s.spec.name}: ${root} moves with its ${outside.length} partition${outside.length === 1 ? '' : 's'} in ${schemas.join(', ')} ` +
          `(not in source.schemas); ${schemas.length === 1 ? 'that schema is' : 'those schemas are'} created in ${s.spec.database}`,
      );
    }
  }
  return out;
}
