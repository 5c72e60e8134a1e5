import type { Catalog, Publication } from '../catalog/model.js';
import { parseKey } from '../catalog/model.js';
import { ident, literal, qname } from '../pg/quote.js';

/** A publication of the source made again in one service's database, over the tables it gets. */
export interface CarriedPublication {
  name: string;
  /** The statement that makes it. */
  sql: string;
  /** The source's tables it publishes there. */
  tables: string[];
  /** FOR ALL TABLES or FOR TABLES IN SCHEMA: only a superuser may create or own it. */
  superuserOnly: 'FOR ALL TABLES' | 'FOR TABLES IN SCHEMA' | null;
}

/** Whether the catalog says how `p` was made (snapshots older than that name it only). */
export function carriable(p: Publication): boolean {
  return p.members !== undefined && p.publish !== undefined;
}

/**
 * The source's publications that publish tables `tables` holds, each made again over those
 * tables only: the tables it names with their row filters and column lists, the schemas it
 * publishes whole (the service's database holds only its own tables of them), FOR ALL
 * TABLES as it was, and its options. What reads the source's publication (a subscription,
 * a change-data-capture tool, Supabase Realtime) finds the same one in each new database.
 */
export function carriedPublications(catalog: Catalog, tables: ReadonlySet<string>): CarriedPublication[] {
  const out: CarriedPublication[] = [];
  for (const p of catalog.publications ?? []) {
    if (!carriable(p)) continue;
    const published = p.tables.filter((t) => tables.has(t));
    if (published.length === 0) continue;
    const schemas = (p.schemas ?? []).filter((s) => published.some((t) => parseKey(t).schema === s));
    const members = (p.members ?? []).filter((m) => tables.has(m.table));
    const what = p.allTables
      ? 'FOR ALL TABLES'
      : `FOR ${[
          ...members.map((m) => {
            const t = parseKey(m.table);
            const columns = m.columns ? ` (${m.columns.map(ident).join(', ')})` : '';
            return `TABLE ${qname(t)}${columns}${m.where ? ` WHERE (${m.where})` : ''}`;
          }),
          ...schemas.map((s) => `TABLES IN SCHEMA ${ident(s)}`),
        ].join(', ')}`;
    // A table the source publishes through a partitioned parent it does not name (its partition is listed instead) is still published.
    if (!p.allTables && members.length === 0 && schemas.length === 0) continue;
    const options = [`publish = ${literal((p.publish ?? []).join(', '))}`, `publish_via_partition_root = ${p.viaRoot ? 'true' : 'false'}`];
    out.push({
      name: p.name,
      sql: `CREATE PUBLICATION ${ident(p.name)} ${what} WITH (${options.join(', ')})`,
      tables: published,
      superuserOnly: p.allTables ? 'FOR ALL TABLES' : schemas.length > 0 ? 'FOR TABLES IN SCHEMA' : null,
    });
  }
  return out;
}

/** Of a service database's carried publications, those its role may own (not FOR ALL TABLES or FOR TABLES IN SCHEMA). */
export function ownedPublications(carried: readonly CarriedPublication[]): string[] {
  return carried.filter((p) => !p.superuserOnly).map((p) => p.name);
}

/** Of a service database's carried publications, those only a superuser may create, for preflight. */
export function superuserPublications(carried: readonly CarriedPublication[]): Array<{ name: string; scope: 'FOR ALL TABLES' | 'FOR TABLES IN SCHEMA' }> {
  return carried.flatMap((p) => (p.superuserOnly ? [{ name: p.name, scope: p.superuserOnly }] : []));
}
