import type pg from 'pg';
import type { QualifiedName } from '../catalog/model.js';
import { qname } from '../pg/quote.js';
import type { RowDiff } from './bisect.js';

/** At most this many differing rows are named per table. */
export const MAX_KEYS = 10;

/** The primary key's columns of a source table, in key order (integer: int2, int4 or int8). */
export async function primaryKey(source: pg.Pool, table: QualifiedName): Promise<Array<{ name: string; integer: boolean }>> {
  const r = await source.query<{ name: string; integer: boolean }>(
    `SELECT a.attname AS name, a.atttypid IN (20, 21, 23) AS integer
     FROM pg_index i
     CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE i.indrelid = $1::regclass AND i.indisprimary
     ORDER BY k.ord`,
    [qname(table)],
  );
  return r.rows;
}

/** `id=17`, `(tenant=a, id=3)`, `row (1,x)`. */
export function describeKey(key: Record<string, string>): string {
  const entries = Object.entries(key);
  if (entries.length === 1 && entries[0]![0] === 'row') {
    const text = entries[0]![1];
    return `row ${text.length > 80 ? `${text.slice(0, 77)}...` : text}`;
  }
  const parts = entries.map(([k, v]) => `${k}=${v.length > 40 ? `${v.slice(0, 37)}...` : v}`);
  return parts.length === 1 ? parts[0]! : `(${parts.join(', ')})`;
}

export function describeDiffs(diffs: readonly RowDiff[]): string {
  return diffs.map((d) => `${describeKey(d.key)} (${d.state})`).join(', ');
}
