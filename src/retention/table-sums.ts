import type { PgClient } from '../steps/handler.js';
import { qname } from '../pg/quote.js';
import { parseKey } from '../catalog/model.js';
import { PINNED_SETTINGS, checksumSql, rowHashExpr, type HashMode } from '../verify/checksum-sql.js';
import { TypeHashes } from '../verify/column-hash.js';

/**
 * Row count and order-independent checksum of one table, as a decimal string ('0'
 * when empty). `method` says how rows were hashed: `record` (PostgreSQL 14+):
 * `hash_record_extended` over the typed row, about 2.5× cheaper than `text`:
 * `hashtextextended(t::text)` under pinned output settings. Journals written before
 * the method was recorded hold `text` sums. Two sums compare only when taken with
 * the same method on the same server major (`major`), which is the case for a
 * target table compared with itself.
 */
export interface TableSum {
  rows: number;
  sum: string;
  method?: HashMode;
  major?: number;
}

/** Major version of the connected server (15, 18, ...). */
export async function serverMajor(client: PgClient): Promise<number> {
  const r = await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
  return Math.floor(Number(r.rows[0]?.v ?? 0) / 10000);
}

/** The method a server supports best: `record` from PostgreSQL 14 on. */
export function bestMethod(major: number): HashMode {
  return major >= 14 ? 'record' : 'text';
}

/** Count only (for tables nobody recorded): the cheapest full count. */
export function tableCountSql(table: string): string {
  return `SELECT count(*)::text AS rows FROM ONLY ${qname(parseKey(table))}`;
}

/** Every column of a table that exists, in attnum order; null when the table does not exist. */
async function tableColumns(client: PgClient, table: string): Promise<string[] | null> {
  const { schema, name } = parseKey(table);
  const r = await client.query<{ names: string[] | null; found: boolean }>(
    `SELECT to_regclass(format('%I.%I', $1::text, $2::text)) IS NOT NULL AS found,
            (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
              WHERE a.attrelid = to_regclass(format('%I.%I', $1::text, $2::text)) AND a.attnum > 0 AND NOT a.attisdropped) AS names`,
    [schema, name],
  );
  const row = r.rows[0];
  return row?.found ? (row.names ?? []) : null;
}

/** The checksum query of each existing table, prepared outside any transaction, with how it hashes. */
export interface SumQueries {
  method: HashMode;
  major: number;
  /** `schema.name` → its count-and-checksum query (tables that do not exist are left out). */
  queries: Map<string, string>;
}

/**
 * Prepares the count-and-checksum query of each table (`schema.name`) of the database
 * `client` is connected to. Must run outside a transaction: types without an extended
 * hash are found by probing, and a failed probe would abort it.
 */
export async function sumQueries(client: PgClient, tables: readonly string[], method?: HashMode): Promise<SumQueries> {
  const major = await serverMajor(client);
  const how = method ?? bestMethod(major);
  const types = new TypeHashes(client);
  const queries = new Map<string, string>();
  for (const table of tables) {
    const names = await tableColumns(client, table);
    if (names === null) continue;
    const columns = how === 'record' ? await types.columns(parseKey(table), names) : names.map((n) => ({ name: n, text: true }));
    queries.set(table, checksumSql(parseKey(table), rowHashExpr(columns, how)));
  }
  return { method: how, major, queries };
}

/** Runs one prepared checksum query in the transaction the caller holds (its output settings pinned first). */
export async function runSumQuery(client: PgClient, prepared: SumQueries, table: string): Promise<TableSum | null> {
  const sql = prepared.queries.get(table);
  if (sql === undefined) return null;
  for (const s of PINNED_SETTINGS) await client.query(s);
  const r = await client.query<{ n: string; h: string }>(sql);
  const row = r.rows[0];
  return row ? { rows: Number(row.n), sum: row.h, method: prepared.method, major: prepared.major } : null;
}

/**
 * Count and checksum of each table (`schema.name`) of the database `client` is
 * connected to; a table that does not exist is left out of the result. `method`:
 * how to hash (default: the best the server supports; pass a baseline's method to
 * compare with it). Each table is read in its own short read-only transaction with
 * pinned output settings, so that a lock is held for one scan only and the steps
 * building indexes beside it are never blocked for longer.
 */
export async function tableSums(client: PgClient, tables: readonly string[], method?: HashMode): Promise<Record<string, TableSum>> {
  const out: Record<string, TableSum> = {};
  const prepared = await sumQueries(client, tables, method);
  for (const table of prepared.queries.keys()) {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      const sum = await runSumQuery(client, prepared, table);
      await client.query('COMMIT');
      if (sum) out[table] = sum;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }
  return out;
}

/** Every ordinary table (`schema.name`) of the connected database, outside the system schemas (and the tool's, unless `toolSchema`). */
export async function userTables(client: PgClient, opts: { toolSchema?: boolean } = {}): Promise<string[]> {
  const r = await client.query<{ key: string }>(
    `SELECT n.nspname || '.' || c.relname AS key
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema'${opts.toolSchema ? '' : ", 'cloudphone_split'"})
        AND n.nspname NOT LIKE 'pg\\_%'
      ORDER BY 1`,
  );
  return r.rows.map((row) => row.key);
}
