import { nameParts, stringLiterals } from '../catalog/body-refs.js';
import type { Catalog, TextSearchObject } from '../catalog/model.js';
import { ident } from '../pg/quote.js';

/** What one service database needs of the source's own text search objects, and what of them cannot be made. */
export interface TextSearchNeeds {
  /** Dictionaries first, then configurations: the order they are made in. */
  objects: TextSearchObject[];
  /** Named but made over a parser or template of the source's own, which is not carried. */
  uncarriable: TextSearchObject[];
  /** The statements that make them: their schemas and extensions (if not there yet), then each object. */
  sql: string[];
}

const keyOf = (o: { schema: string; name: string }) => `${o.schema}.${o.name}`;

/**
 * The source's own text search configurations and dictionaries that `statements` (a
 * service's tables, indexes, views and functions, as rendered) name in a literal
 * (`to_tsvector('app.film_search'::regconfig, …)`, `SET default_text_search_config =
 * 'film_search'`), and the dictionaries those configurations map to. An unqualified
 * name counts in any schema: making one too many is harmless, one too few fails an index
 * build or the first query. `hasExtensions` are the extensions the database gets anyway.
 */
export function textSearchNeeded(catalog: Catalog, statements: readonly string[], hasExtensions: ReadonlySet<string>): TextSearchNeeds {
  const all = catalog.textSearch ?? [];
  if (all.length === 0) return { objects: [], uncarriable: [], sql: [] };
  const byKey = new Map(all.map((o) => [keyOf(o), o]));
  const byName = new Map<string, TextSearchObject[]>();
  for (const o of all) byName.set(o.name, [...(byName.get(o.name) ?? []), o]);
  const named = new Set<TextSearchObject>();
  for (const statement of statements) {
    for (const lit of stringLiterals(statement)) {
      const parts = nameParts(lit);
      if (!parts) continue;
      const found = parts.length === 2 ? [byKey.get(`${parts[0]}.${parts[1]}`)] : parts.length === 1 ? (byName.get(parts[0]!) ?? []) : [];
      for (const o of found) if (o) named.add(o);
    }
  }
  for (const o of [...named]) for (const d of o.dictionaries) if (byKey.has(d)) named.add(byKey.get(d)!);
  const uncarriable = [...named].filter((o) => o.ownBase || o.dictionaries.some((d) => byKey.get(d)?.ownBase));
  const objects = [...named]
    .filter((o) => !uncarriable.includes(o))
    .sort((a, b) => (a.kind === b.kind ? keyOf(a).localeCompare(keyOf(b)) : a.kind === 'dictionary' ? -1 : 1));
  const schemas = [...new Set(objects.map((o) => o.schema))].filter((s) => s !== 'public').sort();
  const extensions = new Map(objects.flatMap((o) => o.needs).filter((e) => !hasExtensions.has(e.name)).map((e) => [e.name, e]));
  const sql = [
    ...[...new Set([...schemas, ...[...extensions.values()].map((e) => e.schema).filter((s) => s !== 'public')])].map((s) => `CREATE SCHEMA IF NOT EXISTS ${ident(s)}`),
    ...[...extensions.values()].map((e) => `CREATE EXTENSION IF NOT EXISTS ${ident(e.name)} WITH SCHEMA ${ident(e.schema)}`),
    ...objects.flatMap((o) => o.ddl),
  ];
  return { objects, uncarriable, sql };
}
