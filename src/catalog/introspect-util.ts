import type pg from 'pg';

/** The first OID handed out after initdb: anything below it is built in. */
export const FIRST_NORMAL_OID = 16384;

/** Plain code-unit order, independent of any server or process locale. */
export function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sortBy<T>(items: T[], key: (item: T) => string): T[] {
  return items.sort((a, b) => byString(key(a), key(b)));
}

export function sortedUnique(items: Iterable<string>): string[] {
  return [...new Set(items)].sort(byString);
}

/** One bulk catalog query; rows typed by the caller. */
export async function rows<R extends pg.QueryResultRow>(
  client: pg.ClientBase,
  sql: string,
  params: unknown[] = [],
): Promise<R[]> {
  return (await client.query<R>(sql, params)).rows;
}

/** `schema.name` of an object whose parts come from the catalog. */
export const keyOf = (schema: string, name: string): string => `${schema}.${name}`;

/** SQL fragment: the comment of an object, or NULL. */
export function commentSql(catalog: string, oidExpr: string, subIdExpr = '0'): string {
  return `(SELECT d.description FROM pg_catalog.pg_description d WHERE d.classoid = '${catalog}'::regclass AND d.objoid = ${oidExpr} AND d.objsubid = ${subIdExpr})`;
}

/** SQL fragment: `"schema"."name"` of a collation by OID (quote_all_identifiers is on). */
export function collationSql(oidExpr: string): string {
  return `(SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = ${oidExpr})`;
}
