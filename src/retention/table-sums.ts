import type { PgClient } from '../steps/handler.js';
import { qname } from '../pg/quote.js';
import { parseKey } from '../catalog/model.js';
import { PINNED_SETTINGS, boundRowHashExpr, checksumSql, rowHashExpr } from '../verify/checksum-sql.js';
import { TypeHashes } from '../verify/column-hash.js';

/**
 * How a table's rows were hashed. `exact` (PostgreSQL 14+, what this version records):
 * `hash_record_extended` over the typed row seeded by the row's primary key (verify's
 * boundRowHashExpr), with every column whose equality is coarser than its value (numeric
 * 1.0 and 1.00, float -0 and 0, jsonb, interval, an extension's type such as citext, a
 * nondeterministic collation) through its text under collation "C": a baseline must see
 * every write a service could read back, since rollback drops what it cannot see. Still
 * cheaper than `text`: `hashtextextended(t::text)` under pinned output settings. `keyed`:
 * the same with those columns hashed by type, and `record`, unseeded (which a sum over
 * rows does not always tell from values swapped between rows), recorded by earlier
 * versions: still taken again to compare with such a record. Journals written before the
 * method was recorded hold `text` sums.
 */
export type SumMethod = 'exact' | 'keyed' | 'record' | 'text';

export const SUM_METHODS: readonly SumMethod[] = ['exact', 'keyed', 'record', 'text'];

export function isSumMethod(v: unknown): v is SumMethod {
  return (SUM_METHODS as readonly unknown[]).includes(v);
}

/**
 * Row count and order-independent checksum of one table, as a decimal string ('0'
 * when empty), and how it was taken (`method`). Two sums compare only when taken with
 * the same method on the same server major (`major`), which is the case for a
 * target table compared with itself.
 */
export interface TableSum {
  rows: number;
  sum: string;
  method?: SumMethod;
  major?: number;
}

/** A sum as the journal holds it (a step's detail); null for anything else. */
export function readSum(v: unknown): TableSum | null {
  if (typeof v !== 'object' || v === null) return null;
  const r = v as Record<string, unknown>;
  if (typeof r.rows !== 'number' || typeof r.sum !== 'string') return null;
  const method = isSumMethod(r.method) ? r.method : undefined;
  return { rows: r.rows, sum: r.sum, ...(method ? { method } : {}), ...(typeof r.major === 'number' ? { major: r.major } : {}) };
}

/** Major version of the connected server (15, 18, ...). */
export async function serverMajor(client: PgClient): Promise<number> {
  const r = await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
  return Math.floor(Number(r.rows[0]?.v ?? 0) / 10000);
}

/** The method a server supports best: `exact` from PostgreSQL 14 on. */
export function bestMethod(major: number): SumMethod {
  return major >= 14 ? 'exact' : 'text';
}

/** Count only (for tables nobody recorded): the cheapest full count. */
export function tableCountSql(table: string): string {
  return `SELECT count(*)::text AS rows FROM ONLY ${qname(parseKey(table))}`;
}

/** Every column (attnum order) and the size on disk of each table that exists; one catalog query for all of them. */
async function tableColumns(client: PgClient, tables: readonly string[]): Promise<Map<string, { names: string[]; bytes: number }>> {
  const keys = tables.map(parseKey);
  const r = await client.query<{ i: number; bytes: string; names: string[] | null }>(
    `SELECT k.i::int AS i, pg_relation_size(c.oid)::text AS bytes,
            (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS names
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(s, n, i)
       JOIN pg_class c ON c.oid = to_regclass(format('%I.%I', k.s, k.n))`,
    [keys.map((k) => k.schema), keys.map((k) => k.name)],
  );
  const out = new Map<string, { names: string[]; bytes: number }>();
  for (const row of r.rows) out.set(tables[row.i - 1]!, { names: row.names ?? [], bytes: Number(row.bytes) });
  return out;
}

/** The checksum query of each existing table, prepared outside any transaction, with how it hashes. */
export interface SumQueries {
  method: SumMethod;
  major: number;
  /** `schema.name` → its count-and-checksum query (tables that do not exist are left out). */
  queries: Map<string, string>;
  /** `schema.name` → its size on disk when prepared (bytes): small tables are read together. */
  bytes: Map<string, number>;
  /** With `emptyBySize`: the tables whose files held no page when prepared (no query for them). */
  empty: string[];
}

export interface SumOptions {
  /**
   * A table whose main fork has no page has no row: its sum is `{ rows: 0, sum: '0' }`
   * without classifying its columns or reading it. For callers that read tables nothing
   * writes to at that moment (a target before its services use it, a fenced source): a
   * schema-only split's thousand empty tables then cost one catalog query.
   */
  emptyBySize?: boolean;
}

/**
 * Prepares the count-and-checksum query of each table (`schema.name`) of the database
 * `client` is connected to. Must run outside a transaction: types without an extended
 * hash are found by probing, and a failed probe would abort it. The columns of all
 * tables are read in one query, their types classified in one more.
 */
export async function sumQueries(client: PgClient, tables: readonly string[], method?: SumMethod, opts: SumOptions = {}): Promise<SumQueries> {
  const major = await serverMajor(client);
  const how = method ?? bestMethod(major);
  const found = await tableColumns(client, tables);
  const empty = opts.emptyBySize ? tables.filter((t) => found.get(t)?.bytes === 0) : [];
  const skipped = new Set(empty);
  const present = tables.filter((t) => found.has(t) && !skipped.has(t));
  const columns =
    how !== 'text'
      ? await new TypeHashes(client, { exact: how === 'exact' }).columnsOf(present.map((t) => ({ table: parseKey(t), names: found.get(t)!.names })))
      : present.map((t) => found.get(t)!.names.map((n) => ({ name: n, text: true })));
  const queries = new Map<string, string>();
  const bytes = new Map<string, number>();
  present.forEach((table, i) => {
    const rowHash = how === 'keyed' || how === 'exact' ? boundRowHashExpr(columns[i]!, 'record') : rowHashExpr(columns[i]!, how);
    queries.set(table, checksumSql(parseKey(table), rowHash));
    bytes.set(table, found.get(table)!.bytes);
  });
  return { method: how, major, queries, bytes, empty };
}

/** Runs one prepared checksum query in the transaction the caller holds (its output settings pinned first). */
export async function runSumQuery(client: PgClient, prepared: SumQueries, table: string): Promise<TableSum | null> {
  const sql = prepared.queries.get(table);
  if (sql === undefined) return null;
  await client.query(PINNED_SETTINGS.join('; '));
  const r = await client.query<{ n: string; h: string }>(sql);
  const row = r.rows[0];
  return row ? { rows: Number(row.n), sum: row.h, method: prepared.method, major: prepared.major } : null;
}

/** Tables up to this size on disk are read together, in one query; larger ones alone. */
export const SMALL_TABLE_BYTES = 1024 * 1024;
/** At most so many tables in one query. */
export const SUM_BATCH_TABLES = 200;

/**
 * The tables in groups read in one query each: consecutive small tables together (at
 * most `SUM_BATCH_TABLES`, `SMALL_TABLE_BYTES` in all), every larger table alone.
 */
export function sumBatches(tables: readonly string[], bytes: ReadonlyMap<string, number>): string[][] {
  const out: string[][] = [];
  let batch: string[] = [];
  let size = 0;
  for (const t of tables) {
    const b = bytes.get(t) ?? Number.POSITIVE_INFINITY;
    if (b > SMALL_TABLE_BYTES) {
      out.push([t]);
      continue;
    }
    if (batch.length >= SUM_BATCH_TABLES || size + b > SMALL_TABLE_BYTES) {
      out.push(batch);
      batch = [];
      size = 0;
    }
    batch.push(t);
    size += b;
  }
  if (batch.length > 0) out.push(batch);
  return out;
}

/** One query giving the count and checksum of each table of a batch, one row per table (`i`: its place in the batch). */
export function batchSumSql(queries: readonly string[]): string {
  return queries.map((q, i) => `SELECT ${i} AS i, s.n, s.h FROM (${q}) AS s`).join('\nUNION ALL\n');
}

/**
 * Count and checksum of each table (`schema.name`) of the database `client` is
 * connected to; a table that does not exist is left out of the result. `method`:
 * how to hash (default: the best the server supports; pass a baseline's method to
 * compare with it). Each large table is read in its own short read-only transaction
 * with pinned output settings, so that a lock is held for one scan only and the
 * steps building indexes beside it are never blocked for longer; small tables (a
 * schema-only split's empty ones) are read many at a time, in one query, so that
 * a thousand tables cost a few round trips, not a few thousand.
 */
export async function tableSums(client: PgClient, tables: readonly string[], method?: SumMethod, opts: SumOptions = {}): Promise<Record<string, TableSum>> {
  const out: Record<string, TableSum> = {};
  const prepared = await sumQueries(client, tables, method, opts);
  for (const t of prepared.empty) out[t] = { rows: 0, sum: '0', method: prepared.method, major: prepared.major };
  for (const batch of sumBatches([...prepared.queries.keys()], prepared.bytes)) {
    // The transaction and its settings in one round trip (a simple query of several statements).
    await client.query(['BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', ...PINNED_SETTINGS].join('; '));
    try {
      const r = await client.query<{ i: number; n: string; h: string }>(batchSumSql(batch.map((t) => prepared.queries.get(t)!)));
      await client.query('COMMIT');
      for (const row of r.rows) out[batch[row.i]!] = { rows: Number(row.n), sum: row.h, method: prepared.method, major: prepared.major };
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
