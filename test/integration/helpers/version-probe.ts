import type { Catalog, Constraint, Table, TypeDef, View } from '../../../src/catalog/model.js';

/**
 * A small schema aimed at the places where the catalog reader branches on the server
 * version (src/catalog/introspect-*.ts), for the majors the sample alone does not
 * exercise there: triggers cloned onto partitions (internal before 15), identity on a
 * partitioned table (partitions share it from 17), SET STATISTICS (nullable from 17),
 * composites holding an enum (no record hash before 14), domain NOT NULL (a constraint
 * row from 17), multiranges and column compression (14+), NULLS NOT DISTINCT (15+).
 * Everything lives in schema `probe`. The features a major lacks are left out below it,
 * so probeSql(m) is valid on m and on every later major.
 */
export function probeSql(major: number): string[] {
  const out = [
    `CREATE SCHEMA probe;
     CREATE TYPE probe.mood AS ENUM ('low', 'high');
     CREATE TYPE probe.reading AS (mood probe.mood, level integer);
     CREATE DOMAIN probe.positive AS integer NOT NULL CHECK (VALUE > 0);
     CREATE FUNCTION probe.float_diff(a double precision, b double precision) RETURNS double precision
       LANGUAGE sql IMMUTABLE STRICT AS 'SELECT a - b';
     CREATE TYPE probe.floatrange AS RANGE (subtype = double precision, subtype_diff = probe.float_diff);
     CREATE FUNCTION probe.on_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
     CREATE FUNCTION probe.on_partition_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;

     CREATE TABLE probe.measurements (
       id bigint GENERATED ALWAYS AS IDENTITY,
       taken_on date NOT NULL,
       reading probe.reading,
       readings probe.reading[],
       level probe.positive,
       span probe.floatrange,
       note text DEFAULT 'none',
       PRIMARY KEY (id, taken_on)
     ) PARTITION BY RANGE (taken_on);
     CREATE TABLE probe.measurements_2024 PARTITION OF probe.measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
     CREATE TABLE probe.measurements_2025 PARTITION OF probe.measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
     CREATE TRIGGER measurements_on_insert AFTER INSERT ON probe.measurements FOR EACH ROW EXECUTE FUNCTION probe.on_insert();
     ALTER TABLE probe.measurements_2024 DISABLE TRIGGER measurements_on_insert;
     CREATE TRIGGER measurements_2025_own AFTER INSERT ON probe.measurements_2025 FOR EACH ROW EXECUTE FUNCTION probe.on_partition_insert();
     CREATE INDEX measurements_level_idx ON probe.measurements (level);
     ALTER TABLE probe.measurements ALTER COLUMN note SET STATISTICS 0;
     ALTER TABLE probe.measurements ALTER COLUMN level SET STATISTICS 250;
     ALTER TABLE probe.measurements ALTER COLUMN reading SET STATISTICS 10;
     ALTER TABLE probe.measurements ALTER COLUMN reading SET STATISTICS -1;

     CREATE TABLE probe.sites (id integer PRIMARY KEY, name text NOT NULL);
     CREATE TABLE probe.site_archive (archived_at timestamptz, CONSTRAINT site_archive_named CHECK (id > 0) NO INHERIT) INHERITS (probe.sites);
     CREATE VIEW probe.named_sites AS SELECT id, name FROM probe.sites WHERE name <> '' WITH CASCADED CHECK OPTION;
     CREATE MATERIALIZED VIEW probe.site_counts AS SELECT name, count(*) AS n FROM probe.sites GROUP BY name;`,
  ];
  if (major >= 14) {
    out.push(`CREATE TABLE probe.windows (id integer PRIMARY KEY, spans probe.floatmultirange, days int4multirange, history probe.floatmultirange[]);
      ALTER TABLE probe.sites ALTER COLUMN name SET COMPRESSION pglz;
      ALTER TABLE probe.measurements ALTER COLUMN note SET COMPRESSION pglz;`);
  }
  if (major >= 15) out.push(`CREATE TABLE probe.pairs (a integer, b integer, CONSTRAINT pairs_ab UNIQUE NULLS NOT DISTINCT (a, b));`);
  return out;
}

/** The probe's feature level of a major: probeSql is the same for majors of one level. */
export const probeLevel = (major: number): number => (major >= 15 ? 15 : major >= 14 ? 14 : 13);

/**
 * Removes `"rel".` column qualifiers that pg_get_viewdef writes before PostgreSQL 16 for
 * views reading one relation (16+ leaves them out); `rel` is each relation the view reads.
 */
function unqualifiedViewDefinition(v: View): string {
  let def = v.definition;
  for (const key of v.dependsOn) {
    const name = key.slice(key.indexOf('.') + 1);
    const quoted = `"${name.replaceAll('"', '""')}".`;
    // A column qualifier follows whitespace or an opening parenthesis/comma, never a dot (a schema).
    def = def.replace(new RegExp(`(?<=[\\s(,])${quoted.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=")`, 'g'), '');
  }
  return def;
}

/**
 * The catalog without what legitimately differs between PostgreSQL majors holding the
 * same schema. Each rule and why:
 * - serverVersion/serverVersionNum/database: what is compared is the schema, not the server.
 * - rowsEstimate/bytes: physical sizes and ANALYZE results (13 never sets reltuples of a
 *   partitioned table; 14+ does).
 * - extension versions: each major ships its own contrib versions (citext 1.6 up to 17,
 *   1.8 in 18; btree_gist 1.5 in 13 ... 1.8 in 18). The copy creates the target's own.
 * - column types `"json"` vs `json`: format_type() under quote_all_identifiers quotes the
 *   name json before 17, which prints it bare; both name the same type.
 * - typeFlags `nohash` on composites (and arrays of them): before 14 there is no extended
 *   hash for records (hash_record_extended is 14+), so their checksums go through text there.
 * - view definitions: before 16 pg_get_viewdef qualifies each column of a one-relation
 *   view with the relation's name.
 * - range types: 14+ creates a multirange for every range type, and the DDL names it
 *   (multirange_type_name); 13 has none, and the target makes the default one.
 * - NOT NULL constraints (type 'n'): only 18 keeps NOT NULL as pg_constraint rows; on
 *   every major the column's notNull says it.
 */
export function comparableAcrossMajors(c: Catalog): unknown {
  const constraints = (cs: Constraint[]): Constraint[] => cs.filter((k) => k.type !== 'n');
  const composites = new Set(c.types.filter((t) => t.kind === 'composite').map((t) => `${t.schema}.${t.name}`));
  const recordLike = (col: Table['columns'][number]): boolean =>
    col.typeFlags.includes('composite') || (col.typeKey !== null && composites.has(col.typeKey));
  const table = (t: Table): Table => ({
    ...t,
    rowsEstimate: 0,
    bytes: 0,
    constraints: constraints(t.constraints),
    columns: t.columns.map((col) => ({
      ...col,
      type: col.type.replaceAll('"json"', 'json'),
      typeFlags: recordLike(col) ? col.typeFlags.filter((f) => f !== 'nohash') : col.typeFlags,
    })),
  });
  const type = (t: TypeDef): TypeDef =>
    t.kind === 'range' ? { ...t, ddl: t.ddl.map((d) => d.replace(/, multirange_type_name = "(?:[^"]|"")*"\."(?:[^"]|"")*"\)$/, ')')) } : t;
  return {
    ...c,
    serverVersion: null,
    serverVersionNum: null,
    database: null,
    tables: c.tables.map(table),
    views: c.views.map((v) => ({ ...v, definition: unqualifiedViewDefinition(v) })),
    types: c.types.map(type),
    extensions: c.extensions.map((e) => ({ ...e, version: null })),
  };
}
