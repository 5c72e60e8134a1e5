import type pg from 'pg';
import type { Column, QualifiedName } from './model.js';
import { FIRST_NORMAL_OID, collationSql, commentSql, keyOf, rows } from './introspect-util.js';

/**
 * One row of pg_class for a table, view, materialized view or sequence of the
 * selected schemas, or for a partition (at any depth) of a partitioned table of
 * those schemas, whatever schema the partition lives in: a partitioned table
 * moves with all its partitions.
 */
export interface RelationRow {
  oid: number;
  schema: string;
  name: string;
  relkind: 'r' | 'p' | 'v' | 'm' | 'S';
  relpersistence: 'p' | 'u';
  bound: string | null;
  partkey: string | null;
  parents: QualifiedName[] | null;
  ispartition: boolean;
  reloptions: string[];
  toast_reloptions: string[];
  relreplident: 'd' | 'n' | 'f' | 'i';
  relrowsecurity: boolean;
  relforcerowsecurity: boolean;
  /** The table access method when it is not heap (a table of another method needs it said in CREATE TABLE … USING). */
  access_method: string | null;
  reltuples: number;
  bytes: string | null;
  viewdef: string | null;
  /** pg_class.relispopulated: false for a materialized view made or left WITH NO DATA. */
  populated: boolean;
  comment: string | null;
}

export async function readRelations(client: pg.ClientBase, schemas: string[]): Promise<RelationRow[]> {
  return rows<RelationRow>(
    client,
    `SELECT c.oid, n.nspname::text AS schema, c.relname::text AS name, c.relkind::text AS relkind,
        c.relpersistence::text AS relpersistence, c.relispartition AS ispartition,
        CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS bound,
        CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partkey,
        (SELECT json_agg(json_build_object('schema', pn.nspname, 'name', pc.relname) ORDER BY i.inhseqno)
           FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent
           JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid) AS parents,
        coalesce(c.reloptions, '{}')::text[] AS reloptions,
        coalesce(tc.reloptions, '{}')::text[] AS toast_reloptions,
        c.relreplident::text AS relreplident, c.relrowsecurity, c.relforcerowsecurity,
        CASE WHEN c.relkind IN ('r', 'p', 'm') THEN (SELECT a.amname::text FROM pg_am a WHERE a.oid = c.relam AND a.amname <> 'heap') END AS access_method,
        c.reltuples::float8 AS reltuples,
        -- An empty table's indexes and TOAST are left out (0): opening them all is most of this query's time on a
        -- fresh session (1,000 empty tables with 4.5 indexes each: 160 ms against 30).
        CASE WHEN c.relkind IN ('r', 'p', 'm') THEN CASE WHEN pg_relation_size(c.oid) > 0 THEN pg_total_relation_size(c.oid) ELSE 0 END END AS bytes,
        CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END AS viewdef,
        c.relispopulated AS populated,
        ${commentSql('pg_class', 'c.oid')} AS comment
     FROM pg_class c
     JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_class tc ON tc.oid = c.reltoastrelid
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S')
       -- A view an extension makes (pg_stat_statements) is the extension's: CREATE EXTENSION makes it where the extension goes.
       AND NOT (c.relkind IN ('v', 'm') AND EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_class'::regclass AND x.objid = c.oid AND x.deptype = 'e'))
       AND (n.nspname = ANY($1::text[]) OR c.oid IN (
         SELECT pt.relid FROM pg_class pc
         JOIN pg_namespace pn ON pn.oid = pc.relnamespace
         CROSS JOIN LATERAL pg_partition_tree(pc.oid) pt
         WHERE pn.nspname = ANY($1::text[]) AND pc.relkind = 'p'))`,
    [schemas],
  );
}

/** One live column (attnum > 0, not dropped) of a selected table; `key_*` name the element type of an array. */
export interface ColumnRow {
  relid: number;
  name: string;
  position: number;
  type: string;
  typid: number;
  key_typid: number;
  key_schema: string;
  key_name: string;
  key_extension: string | null;
  attnotnull: boolean;
  attidentity: string;
  attgenerated: string;
  expr: string | null;
  collation: string | null;
  comment: string | null;
  statistics: number | null;
  storage: string | null;
  compression: string | null;
  options: string[];
  attislocal: boolean;
}

export async function readColumns(client: pg.ClientBase, relids: number[], version: number): Promise<ColumnRow[]> {
  const statistics =
    version >= 170000 ? 'a.attstattarget::int' : 'CASE WHEN a.attstattarget >= 0 THEN a.attstattarget::int END';
  const compression = version >= 140000 ? `nullif(a.attcompression::text, '')` : 'NULL::text';
  return rows<ColumnRow>(
    client,
    `SELECT a.attrelid AS relid, a.attname::text AS name, a.attnum::int AS position,
        format_type(a.atttypid, a.atttypmod) AS type, a.atttypid AS typid,
        kt.oid AS key_typid, kn.nspname::text AS key_schema, kt.typname::text AS key_name,
        (SELECT e.extname::text FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
          WHERE d.classid = 'pg_type'::regclass AND d.objid = kt.oid AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e') AS key_extension,
        a.attnotnull, a.attidentity::text AS attidentity, a.attgenerated::text AS attgenerated,
        pg_get_expr(ad.adbin, ad.adrelid) AS expr,
        CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN ${collationSql('a.attcollation')} END AS collation,
        ${commentSql('pg_class', 'a.attrelid', 'a.attnum')} AS comment,
        ${statistics} AS statistics,
        CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END AS storage,
        ${compression} AS compression,
        coalesce(a.attoptions, '{}')::text[] AS options,
        a.attislocal
     FROM pg_attribute a
     JOIN pg_type t ON t.oid = a.atttypid
     LEFT JOIN pg_type el ON el.oid = t.typelem AND t.typlen = -1 AND t.typelem <> 0
     JOIN pg_type kt ON kt.oid = coalesce(el.oid, t.oid)
     JOIN pg_namespace kn ON kn.oid = kt.typnamespace
     LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
     WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped`,
    [relids],
  );
}

const STORAGE: Record<string, string> = { p: 'PLAIN', e: 'EXTERNAL', m: 'MAIN', x: 'EXTENDED' };
const COMPRESSION: Record<string, string> = { p: 'pglz', l: 'lz4' };

/**
 * Builds a column from its row. `identitySequence` is the key of the sequence
 * behind an identity column; `notNull` is decided by the caller (on 18 an
 * unvalidated NOT NULL constraint does not make the column NOT NULL before the data).
 */
export function toColumn(r: ColumnRow, typeFlags: string[], identitySequence: string | null, notNull: boolean): Column {
  const generated = r.attgenerated === 's' || r.attgenerated === 'v';
  return {
    name: r.name,
    position: r.position,
    type: r.type,
    typeKey: r.key_typid >= FIRST_NORMAL_OID ? keyOf(r.key_schema, r.key_name) : null,
    ...(r.key_extension ? { typeExtension: r.key_extension } : {}),
    typeFlags,
    notNull,
    default: generated ? null : r.expr,
    identity:
      (r.attidentity === 'a' || r.attidentity === 'd') && identitySequence
        ? { kind: r.attidentity, sequence: identitySequence }
        : null,
    generated: generated && r.expr !== null ? { kind: r.attgenerated as 's' | 'v', expression: r.expr } : null,
    collation: r.collation,
    comment: r.comment,
    statistics: r.statistics,
    storage: r.storage ? (STORAGE[r.storage] ?? null) : null,
    compression: r.compression ? (COMPRESSION[r.compression] ?? null) : null,
    options: r.options,
    inherited: !r.attislocal,
  };
}
