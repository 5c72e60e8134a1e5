import type pg from 'pg';
import type { Catalog, Table } from './model.js';
import { tableKey } from './model.js';
import { ident, qname } from '../pg/quote.js';

/**
 * The smallest and largest value of a table's single-column integer primary key,
 * read at plan time, so that a large table's copy can be split into key ranges.
 * Values are decimal strings (bigint does not fit a JS number). Not part of the
 * catalog: it changes with the data, and the fingerprint must not.
 */
export interface KeyRange {
  column: string;
  min: string;
  max: string;
}

const INTEGER_TYPES = new Set(['smallint', 'integer', 'bigint']);

/** The column of a single-column smallint/integer/bigint primary key, or null. */
export function integerKeyColumn(t: Table): string | null {
  const pk = t.constraints.find((c) => c.type === 'p');
  if (!pk || pk.columns.length !== 1) return null;
  const col = t.columns.find((c) => c.name === pk.columns[0]);
  return col && INTEGER_TYPES.has(col.type) ? col.name : null;
}

/**
 * Key ranges of the ordinary tables larger than `minBytes` that have an integer
 * primary key: two index probes per table, in one query. Empty tables are left out.
 */
export async function readKeyRanges(client: pg.ClientBase, catalog: Catalog, minBytes: number): Promise<Record<string, KeyRange>> {
  const wanted = catalog.tables
    .filter((t) => t.kind === 'r' && t.bytes > minBytes)
    .flatMap((t) => {
      const column = integerKeyColumn(t);
      return column ? [{ key: tableKey(t), table: t, column }] : [];
    });
  const out: Record<string, KeyRange> = {};
  if (wanted.length === 0) return out;
  const parts = wanted.map(
    (w, i) => `SELECT ${i} AS i, min(${ident(w.column)})::text AS min, max(${ident(w.column)})::text AS max FROM ONLY ${qname(w.table)}`,
  );
  const r = await client.query<{ i: number; min: string | null; max: string | null }>(parts.join(' UNION ALL '));
  for (const row of r.rows) {
    const w = wanted[row.i]!;
    if (row.min !== null && row.max !== null) out[w.key] = { column: w.column, min: row.min, max: row.max };
  }
  return out;
}
