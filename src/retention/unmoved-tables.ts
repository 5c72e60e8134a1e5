import type { PgClient } from '../steps/handler.js';
import { qname } from '../pg/quote.js';

/** A table of the backup that the split did not move: dropping the database loses it. */
export interface UnmovedTable {
  /** `schema.name` */
  table: string;
  rows: number;
  /** Its schema is not one of `source.schemas`: the split never looked at it. */
  outsideSchemas: boolean;
}

/** Every ordinary table of the connected database (`schema.name`), outside the system schemas and extensions. */
export async function databaseTables(client: PgClient): Promise<Array<{ schema: string; name: string }>> {
  const r = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
      ORDER BY 1, 2`,
  );
  return r.rows;
}

/**
 * The tables holding rows that the split did not move (ignored tables such as a
 * migrations table, tables of schemas outside `source.schemas`): what only the
 * backup database holds, and an archive must keep before it is dropped.
 */
export async function unmovedTables(client: PgClient, moved: ReadonlySet<string>, schemas: readonly string[]): Promise<UnmovedTable[]> {
  const out: UnmovedTable[] = [];
  for (const t of await databaseTables(client)) {
    const key = `${t.schema}.${t.name}`;
    if (moved.has(key)) continue;
    const n = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ONLY ${qname(t)}`);
    const rows = Number(n.rows[0]?.n ?? 0);
    if (rows > 0) out.push({ table: key, rows, outsideSchemas: !schemas.includes(t.schema) });
  }
  return out;
}

export function describeUnmoved(tables: readonly UnmovedTable[]): string {
  return tables.map((t) => `${t.table} (${t.rows} row${t.rows === 1 ? '' : 's'}${t.outsideSchemas ? ', a schema outside source.schemas' : ', not moved by the split'})`).join(', ');
}
