import type pg from 'pg';
import { qname } from '../pg/quote.js';
import type { QualifiedName } from '../catalog/model.js';
import { hashProbeSql, type HashColumn } from './checksum-sql.js';

/**
 * Built-in types whose equality (and hash) is coarser than their value: float4 and float8
 * (-0 = 0), numeric (1.0 = 1.00), jsonb (numbers inside it likewise), interval ('1 day' =
 * '24 hours'), bpchar (trailing spaces). With `exact`, these and every type an extension
 * defines (citext: 'A' = 'a') are hashed through their text form.
 */
const LOSSY_TYPES = [700, 701, 1700, 3802, 1186, 1042];

/** Types (PostgreSQL 14+), found through domains, arrays, composites and ranges, whose hash is not portable or missing. */
const TYPE_WALK_SQL = `
WITH RECURSIVE walk(root, t) AS (
  SELECT oid, oid FROM pg_type WHERE oid = ANY ($1::oid[])
  UNION
  SELECT w.root, c.child
  FROM walk w
  JOIN pg_type ty ON ty.oid = w.t
  CROSS JOIN LATERAL (
    SELECT ty.typbasetype AS child WHERE ty.typtype = 'd'
    UNION ALL SELECT ty.typelem WHERE ty.typelem <> 0
    UNION ALL SELECT a.atttypid FROM pg_attribute a
      WHERE ty.typtype = 'c' AND a.attrelid = ty.typrelid AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL SELECT r.rngsubtype FROM pg_range r WHERE r.rngtypid = ty.oid OR r.rngmultitypid = ty.oid
  ) c
)
SELECT w.root::text AS oid, format_type(w.root, NULL) AS name, bool_or(ty.typtype = 'e') AS has_enum,
       bool_or(ty.oid IN (${LOSSY_TYPES.join(', ')}) OR (ty.typtype = 'b' AND ty.oid >= 16384)) AS lossy
FROM walk w JOIN pg_type ty ON ty.oid = w.t
GROUP BY w.root`;

/** A column's type and its place in the primary key (see HashColumn.key). */
interface Attr {
  oid: string;
  key: 'integer' | 'other' | null;
  /** The column's collation is nondeterministic (two different texts can be equal). */
  nondet: boolean;
  /** A numeric column with a declared scale (numeric(12,2)): every value is stored at that scale, so its hash is exact. */
  scaled: boolean;
}

/**
 * Decides, per column type of the source, whether `hash_record_extended` may hash it
 * as is. Cast to text: enums anywhere inside the type (their hash is the label's OID,
 * which differs between databases) and every type without an extended hash function
 * (json, xml, point, money, ...: found by asking the server). One instance per run.
 * `exact` (the baselines rollback and prune compare with, which must see every write a
 * service could read back): also the lossy types above, and columns of a
 * nondeterministic collation, each through its text under collation "C".
 */
export class TypeHashes {
  private readonly textTypes = new Map<string, boolean>();

  /** `source`: a pool or a client of the database whose types are asked about. */
  constructor(
    private readonly source: Pick<pg.ClientBase, 'query'>,
    private readonly opts: { exact?: boolean } = {},
  ) {}

  async columns(table: QualifiedName, names: readonly string[]): Promise<HashColumn[]> {
    return (await this.columnsOf([{ table, names }]))[0]!;
  }

  /** The hash columns of several tables, their types read in one query. */
  async columnsOf(tables: ReadonlyArray<{ table: QualifiedName; names: readonly string[] }>): Promise<HashColumn[][]> {
    // With each column's place in the primary key: verify seeds the row hash with the key.
    const attrs = await this.source.query<{ i: number; name: string } & Attr>(
      `SELECT r.i::int AS i, a.attname AS name, a.atttypid::text AS oid,
              CASE WHEN x.indrelid IS NULL THEN NULL WHEN x.indnkeyatts = 1 AND a.atttypid IN (20, 21, 23) THEN 'integer' ELSE 'other' END AS key,
              coalesce(NOT co.collisdeterministic, false) AS nondet,
              a.atttypid = 1700 AND a.atttypmod >= 0 AS scaled
       FROM unnest($1::text[]) WITH ORDINALITY AS r(rel, i)
       JOIN pg_attribute a ON a.attrelid = r.rel::regclass AND a.attnum > 0 AND NOT a.attisdropped
       LEFT JOIN pg_collation co ON co.oid = a.attcollation
       LEFT JOIN pg_index x ON x.indrelid = a.attrelid AND x.indisprimary AND a.attnum = ANY ((x.indkey::int2[])[0:x.indnkeyatts - 1])`,
      [tables.map((t) => qname(t.table))],
    );
    const unknown = [...new Set(attrs.rows.map((r) => r.oid))].filter((o) => !this.textTypes.has(o));
    if (unknown.length > 0) await this.classify(unknown);
    const byTable = new Map<number, Map<string, Attr>>();
    for (const r of attrs.rows) {
      const m = byTable.get(r.i) ?? new Map<string, Attr>();
      m.set(r.name, { oid: r.oid, key: r.key, nondet: r.nondet, scaled: r.scaled });
      byTable.set(r.i, m);
    }
    return tables.map((t, i) => {
      const typeOf = byTable.get(i + 1) ?? new Map<string, Attr>();
      return t.names.map((name): HashColumn => {
        const a = typeOf.get(name);
        const typed = a === undefined ? true : a.scaled ? false : (this.textTypes.get(a.oid) ?? true);
        const text = typed || (this.opts.exact === true && a !== undefined && a.nondet);
        const col: HashColumn = this.opts.exact && text ? { name, text, exact: true } : { name, text };
        return a?.key ? { ...col, key: a.key } : col;
      });
    });
  }

  private async classify(oids: string[]): Promise<void> {
    const r = await this.source.query<{ oid: string; name: string; has_enum: boolean; lossy: boolean }>(TYPE_WALK_SQL, [oids]);
    for (const row of r.rows) {
      if (row.has_enum || (this.opts.exact && row.lossy)) {
        this.textTypes.set(row.oid, true);
        continue;
      }
      try {
        await this.source.query(hashProbeSql(row.name));
        this.textTypes.set(row.oid, false);
      } catch {
        this.textTypes.set(row.oid, true);
      }
    }
  }
}
