import type { Catalog } from '../catalog/model.js';
import { ident, literal, qname } from '../pg/quote.js';

type Collation = NonNullable<Catalog['collations']>[number];

/** `"a"."b"`, `a.b`, `"b"` or `b` after COLLATE, as DDL and bodies name a collation. */
function pattern(c: Collation): RegExp {
  const part = (name: string) => `(?:"${name.replaceAll('"', '""').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"|${/^[a-z_][a-z0-9_$]*$/.test(name) ? name : '(?!)'})`;
  return new RegExp(`\\bCOLLATE\\s+(?:${part(c.schema)}\\s*\\.\\s*)?${part(c.name)}(?![A-Za-z0-9_$"])`, 'i');
}

/**
 * The source's own collations that `statements` (a service's tables, indexes, views,
 * functions and types, as rendered) name after COLLATE: what its database must have
 * before they run. An unqualified name counts too (a function body's `COLLATE natural`).
 */
export function collationsUsed(catalog: Catalog, statements: readonly string[]): Collation[] {
  const all = catalog.collations ?? [];
  if (all.length === 0) return [];
  const text = statements.join('\n');
  return all.filter((c) => pattern(c).test(text));
}

/** What makes a collation in a new database: its schema if missing, the collation, its comment. */
export function collationSql(c: Collation): string[] {
  return [`CREATE SCHEMA IF NOT EXISTS ${ident(c.schema)}`, c.ddl, ...(c.comment !== undefined ? [`COMMENT ON COLLATION ${qname(c)} IS ${literal(c.comment)}`] : [])];
}
