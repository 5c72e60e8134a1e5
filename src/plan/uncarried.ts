import type { Catalog } from '../catalog/model.js';
import { tableKey } from '../catalog/model.js';

/** One service's new database and the tables and views it gets. */
export interface UncarriedTarget {
  service: string;
  database: string;
  /** Keys of the tables it gets (moved and copied, partitions included). */
  tables: readonly string[];
  /** Keys of the views it gets. */
  views: readonly string[];
}

/**
 * A table or view a service gets that uses what no step makes in a new database and no
 * extension brings (a user's base type, operator, operator class or family, read from
 * pg_depend): its CREATE would fail in create_schema, after the databases are made.
 * The plan is blocked instead, one line per database naming each table and what it
 * needs, with the two ways out. Pure.
 */
export function uncarriedProblems(catalog: Pick<Catalog, 'tables' | 'views'>, targets: readonly UncarriedTarget[]): string[] {
  const needs = new Map<string, readonly string[]>();
  for (const r of [...catalog.tables, ...catalog.views]) if (r.uncarried?.length) needs.set(tableKey(r), r.uncarried);
  if (needs.size === 0) return [];
  const out: string[] = [];
  for (const t of targets) {
    const found = [...new Set([...t.tables, ...t.views])].sort().flatMap((k) => (needs.has(k) ? [`${k} (${needs.get(k)!.join(', ')})`] : []));
    if (found.length === 0) continue;
    out.push(
      `${t.database} (${t.service}) would get ${found.join('; ')}: the split makes tables, views, sequences, functions, enum, domain, composite and range types, ` +
        'collations, text search objects and extensions in a new database, not base types, operators or operator classes made outside an extension, so create_schema would fail there. ' +
        'Make them part of an extension installed on the source and the target server (CREATE EXTENSION on the target, ALTER EXTENSION … ADD on the source), or leave the table in the source (ignore)',
    );
  }
  return out;
}
