import type pg from 'pg';
import type { TypeDef } from './model.js';
import { collationSql, commentSql, rows } from './introspect-util.js';
import { ident, literal, qname } from '../pg/quote.js';

interface DomainConstraint {
  name: string;
  type: string;
  definition: string;
  validated: boolean;
  comment: string | null;
}

interface TypeRow {
  oid: number;
  schema: string;
  name: string;
  typtype: 'e' | 'd' | 'c' | 'r';
  base: string | null;
  notnull: boolean;
  default_expr: string | null;
  collation: string | null;
  labels: string[] | null;
  attributes: Array<{ name: string; type: string; collation: string | null; comment: string | null }> | null;
  domain_constraints: DomainConstraint[] | null;
  subtype: string | null;
  subtype_opclass: string | null;
  range_collation: string | null;
  canonical: string | null;
  subdiff: string | null;
  multirange: string | null;
  comment: string | null;
}

function typesSql(version: number): string {
  const multi = version >= 140000;
  return `SELECT t.oid, n.nspname::text AS schema, t.typname::text AS name, t.typtype::text AS typtype,
      CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base,
      t.typnotnull AS notnull,
      CASE WHEN t.typtype = 'd' THEN coalesce(pg_get_expr(t.typdefaultbin, 0), t.typdefault) END AS default_expr,
      CASE WHEN t.typtype = 'd' AND t.typcollation <> 0 AND t.typcollation <> bt.typcollation THEN ${collationSql('t.typcollation')} END AS collation,
      CASE WHEN t.typtype = 'e' THEN
        (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) END AS labels,
      CASE WHEN t.typtype = 'c' THEN
        (SELECT coalesce(json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
            'collation', CASE WHEN a.attcollation <> 0 AND a.attcollation <> at.typcollation THEN ${collationSql('a.attcollation')} END,
            'comment', col_description(t.typrelid, a.attnum))
            ORDER BY a.attnum), '[]')
         FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid
         WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) END AS attributes,
      CASE WHEN t.typtype = 'd' THEN
        (SELECT coalesce(json_agg(json_build_object('name', c.conname, 'type', c.contype, 'definition', pg_get_constraintdef(c.oid),
            'validated', c.convalidated, 'comment', obj_description(c.oid, 'pg_constraint')) ORDER BY c.conname::text COLLATE "C"), '[]')
         FROM pg_constraint c WHERE c.contypid = t.oid) END AS domain_constraints,
      format_type(r.rngsubtype, NULL) AS subtype,
      CASE WHEN NOT opc.opcdefault THEN quote_ident(opn.nspname) || '.' || quote_ident(opc.opcname) END AS subtype_opclass,
      CASE WHEN r.rngcollation <> 0 AND r.rngcollation <> st.typcollation THEN ${collationSql('r.rngcollation')} END AS range_collation,
      CASE WHEN r.rngcanonical <> 0 THEN r.rngcanonical::regproc::text END AS canonical,
      CASE WHEN r.rngsubdiff <> 0 THEN r.rngsubdiff::regproc::text END AS subdiff,
      ${multi ? `(SELECT quote_ident(mn.nspname) || '.' || quote_ident(mt.typname) FROM pg_type mt JOIN pg_namespace mn ON mn.oid = mt.typnamespace WHERE mt.oid = r.rngmultitypid)` : 'NULL::text'} AS multirange,
      ${commentSql('pg_type', 't.oid')} AS comment
    FROM pg_type t
    JOIN pg_namespace n ON n.oid = t.typnamespace
    LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
    LEFT JOIN pg_range r ON r.rngtypid = t.oid
    LEFT JOIN pg_type st ON st.oid = r.rngsubtype
    LEFT JOIN pg_opclass opc ON opc.oid = r.rngsubopc
    LEFT JOIN pg_namespace opn ON opn.oid = opc.opcnamespace
    WHERE t.oid = ANY($1::oid[])`;
}

function domainDdl(r: TypeRow): string[] {
  const name = qname(r);
  const parts = [`CREATE DOMAIN ${name} AS ${r.base}`];
  if (r.collation) parts.push(`COLLATE ${r.collation}`);
  if (r.default_expr !== null) parts.push(`DEFAULT ${r.default_expr}`);
  const constraints = r.domain_constraints ?? [];
  const notNull = constraints.find((c) => c.type === 'n');
  if (notNull && notNull.validated) {
    parts.push(notNull.name === `${r.name}_not_null` ? 'NOT NULL' : `CONSTRAINT ${ident(notNull.name)} NOT NULL`);
  } else if (!notNull && r.notnull) {
    parts.push('NOT NULL');
  }
  const later: string[] = [];
  for (const c of constraints) {
    if (c.type !== 'c') continue;
    if (c.validated) parts.push(`CONSTRAINT ${ident(c.name)} ${c.definition}`);
    else later.push(`ALTER DOMAIN ${name} ADD CONSTRAINT ${ident(c.name)} ${c.definition}`);
  }
  for (const c of constraints) if (c.comment !== null) later.push(`COMMENT ON CONSTRAINT ${ident(c.name)} ON DOMAIN ${name} IS ${literal(c.comment)}`);
  return [parts.join(' '), ...later];
}

function rangeDdl(r: TypeRow): string {
  const opts = [`subtype = ${r.subtype}`];
  if (r.subtype_opclass) opts.push(`subtype_opclass = ${r.subtype_opclass}`);
  if (r.range_collation) opts.push(`collation = ${r.range_collation}`);
  if (r.canonical) opts.push(`canonical = ${r.canonical}`);
  if (r.subdiff) opts.push(`subtype_diff = ${r.subdiff}`);
  if (r.multirange) opts.push(`multirange_type_name = ${r.multirange}`);
  return `CREATE TYPE ${qname(r)} AS RANGE (${opts.join(', ')})`;
}

function toTypeDef(r: TypeRow): TypeDef {
  let kind: TypeDef['kind'];
  let ddl: string[];
  switch (r.typtype) {
    case 'e':
      kind = 'enum';
      ddl = [`CREATE TYPE ${qname(r)} AS ENUM (${(r.labels ?? []).map(literal).join(', ')})`];
      break;
    case 'd':
      kind = 'domain';
      ddl = domainDdl(r);
      break;
    case 'c':
      kind = 'composite';
      ddl = [
        `CREATE TYPE ${qname(r)} AS (${(r.attributes ?? [])
          .map((a) => `${ident(a.name)} ${a.type}${a.collation ? ` COLLATE ${a.collation}` : ''}`)
          .join(', ')})`,
        // What pg_dump carries of a composite's attributes besides their types: their comments.
        ...(r.attributes ?? []).flatMap((a) => (a.comment !== null ? [`COMMENT ON COLUMN ${qname(r)}.${ident(a.name)} IS ${literal(a.comment)}`] : [])),
      ];
      break;
    default:
      kind = 'range';
      ddl = [rangeDdl(r)];
  }
  return { schema: r.schema, name: r.name, kind, ddl, dependsOn: [], comment: r.comment };
}

/** Enums, domains, composite and range types by OID, with their complete DDL. */
export async function readTypes(client: pg.ClientBase, oids: number[], version: number): Promise<Map<number, TypeDef>> {
  const out = new Map<number, TypeDef>();
  if (oids.length === 0) return out;
  for (const r of await rows<TypeRow>(client, typesSql(version), [oids])) out.set(r.oid, toTypeDef(r));
  return out;
}
