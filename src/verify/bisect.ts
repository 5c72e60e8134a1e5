import type { QualifiedName } from '../catalog/model.js';
import {
  bucketSql,
  columnText,
  hashBucketExpr,
  keyRangeSql,
  rangeBucketExpr,
  rangePredicate,
  rowsSql,
  rowTallySql,
  tableFrom,
} from './checksum-sql.js';

/** Runs one query on one side (a client inside a pinned, repeatable-read transaction). */
export type SideQuery = <R extends Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<R[]>;

/** How rows are identified: the primary key, or (without one) the whole row. */
export type RowKey = { kind: 'primary'; columns: string[]; integer: boolean } | { kind: 'row'; rowText: string };

export type DiffState = 'changed' | 'missing in target' | 'extra in target';

/** One differing row: its key as column → text (`{ row: ... }` without a primary key). */
export interface RowDiff {
  key: Record<string, string>;
  state: DiffState;
}

export interface BisectOptions {
  /** The table, read alike on both sides; or `from`, a FROM item per side (alias `t`), such as a query on one side and the table on the other. */
  table?: QualifiedName;
  from?: { source: string; target: string };
  rowHash: string;
  key: RowKey;
  source: SideQuery;
  target: SideQuery;
  /** Rows on each side: decides whether the first level already fits a direct comparison. */
  rows: number;
  /** Stop after this many differing rows. */
  limit: number;
  /** Segments with at most this many rows are compared row by row. */
  leafRows?: number;
  buckets?: number;
}

const MAX_HASH_DEPTH = 6;

interface Bucket {
  n: number;
  h: string;
}

/** Runs the query `sql(from)` makes on each side, with that side's FROM item. */
async function both<R extends Record<string, unknown>>(o: BisectOptions, sql: (from: string) => string): Promise<[R[], R[]]> {
  const from = o.from ?? { source: tableFrom(o.table!), target: tableFrom(o.table!) };
  return Promise.all([o.source<R>(sql(from.source)), o.target<R>(sql(from.target))]);
}

/** Buckets whose count or hash sum differ, in ascending bucket order, with the larger row count. */
async function differingBuckets(o: BisectOptions, bucket: string, where: string): Promise<Array<{ b: string; rows: number }>> {
  const [s, t] = await both<{ b: string; n: string; h: string }>(o, (from) => bucketSql(from, bucket, o.rowHash, where));
  const index = (rows: typeof s) => new Map<string, Bucket>(rows.map((r) => [r.b, { n: Number(r.n), h: r.h }]));
  const sb = index(s);
  const tb = index(t);
  const out: Array<{ b: string; rows: number }> = [];
  for (const b of new Set([...sb.keys(), ...tb.keys()])) {
    const x = sb.get(b);
    const y = tb.get(b);
    if (x && y && x.n === y.n && x.h === y.h) continue;
    out.push({ b, rows: Math.max(x?.n ?? 0, y?.n ?? 0) });
  }
  return out.sort((p, q) => (BigInt(p.b) < BigInt(q.b) ? -1 : BigInt(p.b) > BigInt(q.b) ? 1 : 0));
}

function keyTexts(key: RowKey): string[] {
  return key.kind === 'primary' ? key.columns.map(columnText) : [key.rowText];
}

function keyObject(key: RowKey, row: Record<string, unknown>): Record<string, string> {
  if (key.kind === 'row') return { row: String(row.k0) };
  return Object.fromEntries(key.columns.map((c, i) => [c, String(row[`k${i}`])]));
}

function compareKeys(key: RowKey): (a: RowDiff, b: RowDiff) => number {
  if (key.kind === 'primary' && key.integer) {
    const col = key.columns[0]!;
    return (a, b) => {
      const x = BigInt(a.key[col]!);
      const y = BigInt(b.key[col]!);
      return x < y ? -1 : x > y ? 1 : 0;
    };
  }
  return (a, b) => {
    const x = JSON.stringify(a.key);
    const y = JSON.stringify(b.key);
    return x < y ? -1 : x > y ? 1 : 0;
  };
}

/** Row-by-row comparison of one small segment. */
async function leaf(o: BisectOptions, where: string, found: RowDiff[]): Promise<void> {
  const diffs: RowDiff[] = [];
  if (o.key.kind === 'primary') {
    const cap = (o.leafRows ?? 1000) * 4 + 100;
    const [s, t] = await both<Record<string, unknown>>(o, (from) => rowsSql(from, keyTexts(o.key), o.rowHash, where, cap));
    const side = (rows: typeof s) => new Map(rows.map((r) => [JSON.stringify(keyObject(o.key, r)), r]));
    const sm = side(s);
    const tm = side(t);
    for (const [k, r] of sm) {
      const other = tm.get(k);
      if (!other) diffs.push({ key: keyObject(o.key, r), state: 'missing in target' });
      else if (other.h !== r.h) diffs.push({ key: keyObject(o.key, r), state: 'changed' });
    }
    for (const [k, r] of tm) if (!sm.has(k)) diffs.push({ key: keyObject(o.key, r), state: 'extra in target' });
  } else {
    // Without a key, a row is its text: count each distinct row on both sides (identical
    // rows beyond any limit included) and name the surplus of either side.
    const rowText = o.key.rowText;
    const [s, t] = await both<{ k0: string; n: string }>(o, (from) => rowTallySql(from, rowText, where));
    const tally = new Map<string, number>();
    for (const r of s) tally.set(r.k0, (tally.get(r.k0) ?? 0) + Number(r.n));
    for (const r of t) tally.set(r.k0, (tally.get(r.k0) ?? 0) - Number(r.n));
    for (const [row, n] of tally) {
      for (let i = 0; i < Math.min(Math.abs(n), o.limit); i++) diffs.push({ key: { row }, state: n > 0 ? 'missing in target' : 'extra in target' });
    }
  }
  diffs.sort(compareKeys(o.key));
  for (const d of diffs) {
    if (found.length >= o.limit) return;
    found.push(d);
  }
}

async function byRange(o: BisectOptions, lo: bigint, hi: bigint, rows: number, found: RowDiff[]): Promise<void> {
  const key = (o.key as { columns: string[] }).columns[0]!;
  const buckets = BigInt(o.buckets ?? 256);
  const where = rangePredicate(key, lo, hi);
  if (rows <= (o.leafRows ?? 1000) || hi - lo < buckets) return leaf(o, where, found);
  const width = (hi - lo + buckets) / buckets;
  for (const d of await differingBuckets(o, rangeBucketExpr(key, lo, width), where)) {
    if (found.length >= o.limit) return;
    const blo = lo + BigInt(d.b) * width;
    const bhi = blo + width - 1n < hi ? blo + width - 1n : hi;
    await byRange(o, blo, bhi, d.rows, found);
  }
}

async function byHash(o: BisectOptions, keyText: string, filters: string[], rows: number, found: RowDiff[]): Promise<void> {
  const where = filters.length > 0 ? filters.join(' AND ') : 'true';
  const depth = filters.length;
  if (rows <= (o.leafRows ?? 1000) || depth >= MAX_HASH_DEPTH) return leaf(o, where, found);
  const bucket = hashBucketExpr(keyText, depth, o.buckets ?? 256);
  for (const d of await differingBuckets(o, bucket, where)) {
    if (found.length >= o.limit) return;
    await byHash(o, keyText, [...filters, `${bucket} = ${d.b}`], d.rows, found);
  }
}

/**
 * Finds the first differing rows of a table whose checksums differ: compares count and
 * hash sum per bucket on both sides in one pass (integer keys by range, other keys and
 * key-less tables by a hash of the key or row), descends only into differing buckets,
 * then compares the rows of small segments one by one.
 */
export async function findDifferingRows(o: BisectOptions): Promise<RowDiff[]> {
  const found: RowDiff[] = [];
  if (o.key.kind === 'primary' && o.key.integer) {
    const first = o.key.columns[0]!;
    const [s, t] = await both<{ lo: string | null; hi: string | null }>(o, (from) => keyRangeSql(from, first));
    const bounds = [s[0], t[0]].flatMap((r) => (r?.lo != null && r.hi != null ? [[BigInt(r.lo), BigInt(r.hi)] as const] : []));
    if (bounds.length === 0) return found;
    const lo = bounds.reduce((a, b) => (b[0] < a ? b[0] : a), bounds[0]![0]);
    const hi = bounds.reduce((a, b) => (b[1] > a ? b[1] : a), bounds[0]![1]);
    await byRange(o, lo, hi, o.rows, found);
    return found;
  }
  const keyText = o.key.kind === 'primary'
    ? (o.key.columns.length === 1 ? columnText(o.key.columns[0]!) : `ROW(${o.key.columns.map(columnText).join(', ')})::text`)
    : o.key.rowText;
  await byHash(o, keyText, [], o.rows, found);
  // Hash buckets come in hash order: name the rows found in key order.
  return found.sort(compareKeys(o.key));
}
