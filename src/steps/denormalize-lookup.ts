import { ident, qname } from '../pg/quote.js';

/**
 * Where denormalized values are read from: one table, the key pairs that find a row
 * of it from a row of the outer query, and the columns read from that row.
 */
export interface Lookup {
  table: { schema: string; name: string };
  /** Whether `table` is partitioned: its rows are in its partitions, so no ONLY. */
  partitioned: boolean;
  alias: string;
  /** `local` is a column of the outer row, `remote` the column of `table` it equals. */
  on: ReadonlyArray<{ local: string; remote: string }>;
  /** Columns of `table` read (each once). */
  columns: readonly string[];
}

/**
 * The query that finds the one row of `l.table` an outer row (alias `outer`) points
 * to: a correlated lookup on the referenced key, so the planner can only run it as
 * an index probe per outer row (Memoize where it helps), never as a hash join that
 * keeps the outer rows in its table. A hash join whose hashed side holds many NULL
 * or equal keys cannot split that batch and multiplies its batches instead. A row
 * with a NULL key part matches nothing, as in a join, and skips the probe. The key
 * is a primary or unique key (manifest rules); if it ever were not, LIMIT 1 keeps
 * one row per outer row (no duplicates) and the physical order chooses which, the
 * same row every time in one snapshot.
 */
export function lookupQuery(outer: string, l: Lookup): string {
  const a = ident(l.alias);
  const guard = l.on.map((o) => `${ident(outer)}.${ident(o.local)} IS NOT NULL`);
  const match = l.on.map((o) => `${a}.${ident(o.remote)} = ${ident(outer)}.${ident(o.local)}`);
  const order = l.partitioned ? `${a}.tableoid, ${a}.ctid` : `${a}.ctid`;
  return (
    `SELECT ${l.columns.map((c) => `${a}.${ident(c)}`).join(', ')} ` +
    `FROM ${l.partitioned ? '' : 'ONLY '}${qname(l.table)} AS ${a} ` +
    `WHERE ${[...guard, ...match].join(' AND ')} ORDER BY ${order} LIMIT 1`
  );
}

/**
 * A referenced table at most this fraction of the referencing table's size is read
 * with a plain join (see `lookupJoin`).
 */
export const HASHED_LOOKUP_MAX_FRACTION = 0.25;

/**
 * The lookup as a FROM item, chosen by the sizes of both tables (bytes and rows on the source).
 * A referenced table much smaller than the referencing one (a lookup table: devices
 * for events) is joined plainly, `LEFT JOIN ONLY other AS alias ON alias.key = s.fk`:
 * the planner hashes the smaller input, the referenced table, whose keys are unique
 * and whose NULL keys a left join's inner side drops, so its batches always split
 * evenly; the referencing rows stream past it once, and a NULL or repeated foreign
 * key costs nothing. That is a linear plan at about a plain copy's cost, where a
 * probe per row costs an index descent each (several times the copy). Otherwise
 * (the referenced table not that small, or partitioned) the correlated probe of
 * `lateralLookup`, which the planner cannot turn into a hash of the referencing rows.
 */
export function lookupJoin(outer: string, l: Lookup, sizes: LookupSizes): string {
  return joinsPlainly(l, sizes) ? hashedLookup(outer, l) : lateralLookup(outer, l);
}

/** Bytes (heap and TOAST) and rows of both tables, on the source at plan time (negative: unknown). */
export interface LookupSizes {
  referencing: number;
  referenced: number;
  referencingRows: number;
  referencedRows: number;
}

/** Whether `lookupJoin` joins the referenced table plainly (hashed) rather than probing it per row. */
export function joinsPlainly(l: Pick<Lookup, 'partitioned'>, sizes: LookupSizes): boolean {
  // The planner hashes the side it expects to be smaller in rows: the referenced table must be
  // smaller in rows too (a narrow table of many rows beside a wide one of few would otherwise
  // get the referencing rows hashed, NULL keys and all). Unknown counts (never analysed): a probe.
  const fraction = (a: number, b: number) => a >= 0 && b > 0 && a <= b * HASHED_LOOKUP_MAX_FRACTION;
  return !l.partitioned && fraction(sizes.referenced, sizes.referencing) && fraction(sizes.referencedRows, sizes.referencingRows);
}

/** The most `work_mem` a copy asks for its lookups' hash (256 MB; PostgreSQL's hash_mem_multiplier, 2 by default, doubles what a hash may use). */
export const LOOKUP_WORK_MEM_MAX_KB = 256 * 1024;

/**
 * The `work_mem` (kB) that holds the hash of the plainly joined referenced tables in one
 * batch: each table's bytes (an upper bound of the key and read columns it keeps) plus
 * 64 bytes of hash entry per row, a quarter more for slack, capped at LOOKUP_WORK_MEM_MAX_KB.
 * With the server's default (4 MB) a hash of a 300,000-row table is built in 4 batches,
 * and every referencing row whose key falls in a later batch is written to a temporary
 * file and read again: measured on PostgreSQL 15, 24 M rows joined with 300,000, the copy
 * took 32–34 s with 4 MB and 24.6 s with 64 MB (a plain copy of the table: 14 s).
 */
export function lookupWorkMemKb(hashed: ReadonlyArray<{ bytes: number; rows: number }>): number {
  const bytes = hashed.reduce((a, t) => a + Math.max(0, t.bytes) + Math.max(0, t.rows) * 64, 0);
  return Math.min(LOOKUP_WORK_MEM_MAX_KB, Math.ceil((bytes * 1.25) / 1024));
}

/**
 * Raises the session's `work_mem` to at least `kb` (a server or role setting above it
 * stays); `local`: until the transaction ends, else until `RESET work_mem`.
 */
export function raiseWorkMemSql(kb: number, local: boolean): string {
  return `SELECT set_config('work_mem', greatest(pg_size_bytes(current_setting('work_mem')) / 1024, ${Math.ceil(kb)})::bigint::text || 'kB', ${local})`;
}

/** The lookup as a plain left join on the referenced key (for a referenced table much smaller than the outer one). */
export function hashedLookup(outer: string, l: Lookup): string {
  const a = ident(l.alias);
  const match = l.on.map((o) => `${a}.${ident(o.remote)} = ${ident(outer)}.${ident(o.local)}`);
  return `LEFT JOIN ONLY ${qname(l.table)} AS ${a} ON ${match.join(' AND ')}`;
}

/** The lookup as a FROM item: `LEFT JOIN LATERAL (…) AS alias ON true` (NULLs when nothing matches). */
export function lateralLookup(outer: string, l: Lookup): string {
  return `LEFT JOIN LATERAL (${lookupQuery(outer, l)}) AS ${ident(l.alias)} ON true`;
}

/** The lookup of one column as a scalar expression (NULL when nothing matches). */
export function scalarLookup(outer: string, l: Lookup): string {
  if (l.columns.length !== 1) throw new Error(`a scalar lookup reads one column, not ${l.columns.length}`);
  return `(${lookupQuery(outer, l)})`;
}

/** The column `column` of a lookup joined with `lateralLookup`. */
export function lookupColumn(l: Lookup, column: string): string {
  return `${ident(l.alias)}.${ident(column)}`;
}

/**
 * Groups denormalized columns by the row they read (same table, same key pairs), so
 * several columns from one row cost one probe. Aliases are d1, d2… in first-seen order.
 */
export function groupLookups<D extends { fromTable: string; fromColumn: string; on: ReadonlyArray<{ local: string; remote: string }> }>(
  denorm: readonly D[],
  table: (d: D) => { schema: string; name: string; partitioned: boolean },
): Array<{ lookup: Lookup; entries: D[] }> {
  const groups = new Map<string, { lookup: Lookup; columns: string[]; entries: D[] }>();
  for (const d of denorm) {
    const key = JSON.stringify([d.fromTable, d.on.map((o) => [o.local, o.remote])]);
    let g = groups.get(key);
    if (!g) {
      const t = table(d);
      const columns: string[] = [];
      const lookup: Lookup = { table: { schema: t.schema, name: t.name }, partitioned: t.partitioned, alias: `d${groups.size + 1}`, on: d.on, columns };
      g = { lookup, columns, entries: [] };
      groups.set(key, g);
    }
    if (!g.columns.includes(d.fromColumn)) g.columns.push(d.fromColumn);
    g.entries.push(d);
  }
  return [...groups.values()].map(({ lookup, entries }) => ({ lookup, entries }));
}
