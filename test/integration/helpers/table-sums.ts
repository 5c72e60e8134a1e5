import pg from 'pg';
import type { Plan } from '../../../src/plan/model.js';
import type { SplitFixture } from './split-fixture.js';

const q = (name: string): string => `"${name.replaceAll('"', '""')}"`;
const qkey = (key: string): string => {
  const dot = key.indexOf('.');
  return `${q(key.slice(0, dot))}.${q(key.slice(dot + 1))}`;
};

/** Output settings pinned on both sides, so that `row::text` means the same everywhere. */
export const PINNED_SETTINGS = [
  `SET TimeZone = 'UTC'`,
  `SET DateStyle = 'ISO, YMD'`,
  'SET extra_float_digits = 1',
  `SET bytea_output = 'hex'`,
  `SET IntervalStyle = 'postgres'`,
];

/** Row count and order-independent checksum of one table (over a given column list). */
export interface TableSum {
  rows: number;
  /** sum(hashtextextended(ROW(columns)::text, 0)) as a decimal string ('0' for no rows). */
  sum: string;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Leaf tables (`schema.name` → columns in order) of a database, outside the system and tool schemas. */
export async function leafTables(url: string): Promise<Map<string, string[]>> {
  return withClient(url, async (c) => {
    const r = await c.query<{ key: string; columns: string[] }>(
      `SELECT n.nspname || '.' || c.relname AS key,
              array_agg(a.attname::text ORDER BY a.attnum) AS columns
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'cloudphone_split')
          AND n.nspname NOT LIKE 'pg_%'
        GROUP BY 1 ORDER BY 1`,
    );
    return new Map(r.rows.map((row) => [row.key, row.columns]));
  });
}

/** Count and checksum of each table over the given columns, in one session with pinned settings. */
export async function tableSums(url: string, tables: Map<string, string[]>): Promise<Record<string, TableSum>> {
  return withClient(url, async (c) => {
    for (const s of PINNED_SETTINGS) await c.query(s);
    const out: Record<string, TableSum> = {};
    for (const [key, columns] of tables) {
      const row = `ROW(${columns.map((col) => `t.${q(col)}`).join(', ')})::text`;
      const r = await c.query<{ rows: number; sum: string }>(
        `SELECT count(*)::int AS rows, coalesce(sum(hashtextextended(${row}, 0)), 0)::text AS sum FROM ONLY ${qkey(key)} AS t`,
      );
      out[key] = r.rows[0]!;
    }
    return out;
  });
}

/** The leaf tables the plan copies into each database, by database name. */
export function copiedTables(plan: Plan): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const s of plan.steps) {
    // copy: server: the target server copied these itself.
    if (s.kind === 'start_server_copy') out.set(s.target.database, [...new Set([...(out.get(s.target.database) ?? []), ...s.tables.map((t) => t.table)])].sort());
    if (s.kind !== 'copy_data') continue;
    // A table copied in ranges has several steps: listed once.
    out.set(s.target.database, [...new Set([...(out.get(s.target.database) ?? []), s.table!])].sort());
  }
  return out;
}

/** What one target database holds compared with the source, table by table. */
export interface DatabaseComparison {
  database: string;
  /** Leaf tables found in the target. */
  tables: string[];
  source: Record<string, TableSum>;
  target: Record<string, TableSum>;
}

/**
 * Counts and checksums every leaf table of every service database on the source's
 * columns only (denormalized columns left out), next to the same on the source.
 */
export async function compareWithSource(fx: SplitFixture): Promise<DatabaseComparison[]> {
  const sourceTables = await leafTables(fx.sourceUrl);
  const out: DatabaseComparison[] = [];
  for (const s of fx.services) {
    const found = await leafTables(s.url);
    const columns = new Map<string, string[]>();
    for (const key of found.keys()) {
      const cols = sourceTables.get(key);
      if (!cols) throw new Error(`${s.database} holds ${key}, which the source does not have`);
      columns.set(key, cols);
    }
    const [source, target] = await Promise.all([tableSums(fx.sourceUrl, columns), tableSums(s.url, columns)]);
    out.push({ database: s.database, tables: [...found.keys()], source, target });
  }
  return out;
}

/** Every sequence of a database with its last value (null when never called). */
export async function sequenceValues(url: string): Promise<Record<string, { last: string; called: boolean }>> {
  return withClient(url, async (c) => {
    const r = await c.query<{ key: string; last: string | null; called: boolean }>(
      `SELECT schemaname || '.' || sequencename AS key, last_value::text AS last, last_value IS NOT NULL AS called
         FROM pg_sequences WHERE schemaname NOT IN ('cloudphone_split') ORDER BY 1`,
    );
    const out: Record<string, { last: string; called: boolean }> = {};
    for (const row of r.rows) out[row.key] = { last: row.last ?? '0', called: row.called };
    return out;
  });
}

/** Takes the next value of a sequence (in a read-write transaction) and returns it. */
export async function nextval(url: string, key: string): Promise<bigint> {
  return (await nextvals(url, [key]))[0]!;
}

/** Takes the next value of each sequence (`schema.name`) of one database, in order, on one connection. */
export async function nextvals(url: string, keys: string[]): Promise<bigint[]> {
  if (keys.length === 0) return [];
  return withClient(url, async (c) => {
    const r = await c.query<{ v: string }>(
      `SELECT nextval(k::regclass)::text AS v FROM unnest($1::text[]) WITH ORDINALITY AS x (k, i) ORDER BY i`,
      [keys.map(qkey)],
    );
    return r.rows.map((row) => BigInt(row.v));
  });
}
