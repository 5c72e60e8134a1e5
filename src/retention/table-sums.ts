import type { PgClient } from '../steps/handler.js';
import { qname } from '../pg/quote.js';
import { parseKey } from '../catalog/model.js';

/** Output settings pinned for every checksum, so that `row::text` means the same in every session. */
export const PINNED_SETTINGS: readonly string[] = [
  `SET TimeZone = 'UTC'`,
  `SET DateStyle = 'ISO, YMD'`,
  `SET IntervalStyle = 'postgres'`,
  'SET extra_float_digits = 1',
  `SET bytea_output = 'hex'`,
];

/**
 * Row count and order-independent checksum of one table: `sum` is
 * `sum(hashtextextended(t::text, 0))` over every row as a decimal string ('0' when
 * empty). Two sums of the same table compare only when taken on the same server
 * major, which is the case for a target compared with itself.
 */
export interface TableSum {
  rows: number;
  sum: string;
}

export function tableSumSql(table: string): string {
  return `SELECT count(*)::text AS rows, coalesce(sum(hashtextextended(t::text, 0)), 0)::text AS sum FROM ONLY ${qname(parseKey(table))} AS t`;
}

/**
 * Count and checksum of each table (`schema.name`) of the database `client` is
 * connected to, in one read-only transaction with pinned output settings. A table
 * that does not exist is left out of the result.
 */
export async function tableSums(client: PgClient, tables: readonly string[]): Promise<Record<string, TableSum>> {
  const out: Record<string, TableSum> = {};
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    for (const s of PINNED_SETTINGS) await client.query(s.replace(/^SET /, 'SET LOCAL '));
    for (const table of tables) {
      const { schema, name } = parseKey(table);
      const exists = await client.query(`SELECT to_regclass(format('%I.%I', $1::text, $2::text)) IS NOT NULL AS found`, [schema, name]);
      if (!(exists.rows[0] as { found: boolean } | undefined)?.found) continue;
      const r = await client.query<{ rows: string; sum: string }>(tableSumSql(table));
      const row = r.rows[0];
      if (row) out[table] = { rows: Number(row.rows), sum: row.sum };
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return out;
}

/** Every ordinary table (`schema.name`) of the connected database, outside the system and tool schemas. */
export async function userTables(client: PgClient): Promise<string[]> {
  const r = await client.query<{ key: string }>(
    `SELECT n.nspname || '.' || c.relname AS key
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'cloudphone_split')
        AND n.nspname NOT LIKE 'pg\\_%'
      ORDER BY 1`,
  );
  return r.rows.map((row) => row.key);
}
