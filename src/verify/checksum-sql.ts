import { ident, qname } from '../pg/quote.js';
import type { QualifiedName } from '../catalog/model.js';

/**
 * How rows are hashed. `record`: `hash_record_extended` over the typed row (PostgreSQL
 * 14+, both sides on the same major): fast and independent of session settings, with
 * the columns that have no portable hash cast to text. `text`: `hashtextextended` over
 * the row's text form, for mixed versions or servers older than 14.
 */
export type HashMode = 'record' | 'text';

/** Record hashing needs PostgreSQL 14+ on both sides and the same major (hashes are not portable across majors). */
export function hashModeFor(sourceVersion: number, targetVersion: number): HashMode {
  const major = (v: number) => Math.floor(v / 10000);
  return sourceVersion >= 140000 && targetVersion >= 140000 && major(sourceVersion) === major(targetVersion) ? 'record' : 'text';
}

/** A compared column: `text` means it is hashed through its text form. */
export interface HashColumn {
  name: string;
  text: boolean;
  /** With `text`: that text under collation "C", so that a nondeterministic collation cannot make two texts hash alike. */
  exact?: boolean;
  /** Part of the table's primary key: `integer` when it is the key's one column and an integer. */
  key?: 'integer' | 'other';
}

/**
 * Session settings pinned on both sides before anything is hashed, so that every
 * text form (timestamps, floats, intervals, bytea, money) is the same whatever the
 * server, database or role defaults say. `SET LOCAL`: they end with the transaction.
 */
export const PINNED_SETTINGS: readonly string[] = [
  `SET LOCAL DateStyle = 'ISO, YMD'`,
  `SET LOCAL IntervalStyle = 'postgres'`,
  `SET LOCAL TimeZone = 'UTC'`,
  `SET LOCAL extra_float_digits = 1`,
  `SET LOCAL bytea_output = 'hex'`,
  `SET LOCAL lc_monetary = 'C'`,
  `SET LOCAL statement_timeout = 0`,
];

/** The row alias used in every generated query. */
export const ROW_ALIAS = 't';

function columnRef(c: HashColumn, mode: HashMode, alias = ROW_ALIAS): string {
  const ref = `${alias}.${ident(c.name)}`;
  if (mode !== 'record' || !c.text) return ref;
  return c.exact ? `${ref}::text COLLATE "C"` : `${ref}::text`;
}

/** `ROW(t."a", t."b"::text, ...)` */
export function rowExpr(columns: readonly HashColumn[], mode: HashMode, alias = ROW_ALIAS): string {
  return `ROW(${columns.map((c) => columnRef(c, mode, alias)).join(', ')})`;
}

/**
 * The unseeded per-row hash of the sums earlier versions recorded for rollback and prune
 * (method `record`, src/retention/table-sums.ts): kept as it is, so that those sums can be
 * taken again. hash_record_extended combines its columns' hashes linearly (h = 31·h +
 * column hash), so a sum over rows does not always see values swapped between rows:
 * everything else uses boundRowHashExpr.
 */
export function rowHashExpr(columns: readonly HashColumn[], mode: HashMode): string {
  return mode === 'record'
    ? `hash_record_extended(${rowExpr(columns, mode)}, 0)`
    : `hashtextextended(${rowExpr(columns, 'text')}::text, 0)`;
}

/**
 * The per-row 64-bit hash of verify (summed per table, per bucket, compared per key) and
 * of the sums recorded for rollback and prune (method `keyed`).
 * `record`: hash_record_extended seeded by the row's primary key (the integer itself, or
 * the key columns' hash; the row's own hash for a table without one), so that every value
 * is bound to its row: a record hash adds its columns' hashes linearly, and values of one
 * column swapped between two rows then left an unseeded sum unchanged. `text`: the row's
 * text form, already bound. `alias`: the row alias of the query.
 */
export function boundRowHashExpr(columns: readonly HashColumn[], mode: HashMode, alias = ROW_ALIAS): string {
  if (mode === 'text') return `hashtextextended(${rowExpr(columns, 'text', alias)}::text, 0)`;
  const key = columns.filter((c) => c.key !== undefined);
  const seed =
    key.length === 1 && key[0]!.key === 'integer'
      ? `${alias}.${ident(key[0]!.name)}::int8`
      : `hash_record_extended(${rowExpr(key.length > 0 ? key : columns, mode, alias)}, 0)`;
  return `hash_record_extended(${rowExpr(columns, mode, alias)}, ${seed})`;
}

/** Order-independent checksum of a whole table: one scan, exact `numeric` sum. */
export function checksumSql(table: QualifiedName, rowHash: string): string {
  return `SELECT count(*)::text AS n, coalesce(sum(${rowHash}), 0)::text AS h FROM ONLY ${qname(table)} AS ${ROW_ALIAS}`;
}

/** min/max of an integer key, for range bisection. */
/** A table as the FROM item the bisection's queries read (alias ROW_ALIAS). */
export function tableFrom(table: QualifiedName): string {
  return `ONLY ${qname(table)} AS ${ROW_ALIAS}`;
}

export function keyRangeSql(from: string, key: string): string {
  const k = `${ROW_ALIAS}.${ident(key)}`;
  return `SELECT min(${k})::text AS lo, max(${k})::text AS hi FROM ${from}`;
}

/** A range `lo <= key <= hi` of an integer key (bounds are integer literals). */
export function rangePredicate(key: string, lo: bigint, hi: bigint): string {
  const k = `${ROW_ALIAS}.${ident(key)}`;
  return `${k} BETWEEN ${lo} AND ${hi}`;
}

/** Bucket number of an integer key inside a range: `(key - lo) / width`. */
export function rangeBucketExpr(key: string, lo: bigint, width: bigint): string {
  return `floor((${ROW_ALIAS}.${ident(key)}::numeric - ${lo}) / ${width})`;
}

/** Bucket number of any key: a hash of its text form with a per-level seed, in [0, buckets). */
export function hashBucketExpr(keyText: string, seed: number, buckets: number): string {
  return `((hashtextextended(${keyText}, ${seed}) % ${buckets}) + ${buckets}) % ${buckets}`;
}

/** Row count and hash sum per bucket, within `where`. */
export function bucketSql(from: string, bucket: string, rowHash: string, where: string): string {
  return `SELECT (${bucket})::text AS b, count(*)::text AS n, sum(${rowHash})::text AS h FROM ${from} WHERE ${where} GROUP BY 1`;
}

/**
 * The rows within `where`, in key order: their key columns as text (k0, k1, ...) and their
 * hash; at most `limit` (a segment of unique keys is small by construction).
 */
export function rowsSql(from: string, keyTexts: readonly string[], rowHash: string, where: string, limit: number): string {
  const keys = keyTexts.map((k, i) => `${k} AS k${i}`).join(', ');
  const order = keyTexts.map((_, i) => `k${i}`).join(', ');
  return `SELECT ${keys}, (${rowHash})::text AS h FROM ${from} WHERE ${where} ORDER BY ${order} LIMIT ${limit}`;
}

/**
 * Each distinct row within `where` (its text form, k0) and how many times it occurs, for a
 * table without a key: identical rows are counted, never cut off by a limit.
 */
export function rowTallySql(from: string, rowText: string, where: string): string {
  return `SELECT ${rowText} AS k0, count(*)::text AS n FROM ${from} WHERE ${where} GROUP BY 1 ORDER BY 1`;
}

/** `t."col"::text` */
export function columnText(name: string): string {
  return `${ROW_ALIAS}.${ident(name)}::text`;
}

/** Probes whether `hash_record_extended` can hash a type (it fails for json, point, xml ...). */
export function hashProbeSql(typeName: string): string {
  return `SELECT hash_record_extended(ROW(NULL::${typeName}), 0)`;
}
