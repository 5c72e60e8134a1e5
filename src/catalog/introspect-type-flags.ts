import type pg from 'pg';
import { FIRST_NORMAL_OID, rows } from './introspect-util.js';

/**
 * Column type flags, for the copy and the checksum:
 * - `enum`: holds enum values somewhere (enum, array/domain/composite/range of one);
 *   their hash is OID-based and differs between databases: cast to text.
 * - `json`: json or jsonb (through domains and arrays).
 * - `nohash`: no extended hash function (json, xml, point, composites before 14 ...):
 *   `hash_record_extended` fails on it: cast to text.
 * - `binary-unsafe`: binary COPY between two databases may fail or be wrong
 *   (user-defined or extension base types, arrays and composites that embed
 *   non-built-in type OIDs, types without binary I/O).
 * - `xml`: xml, a domain over it, or an array of either. PostgreSQL's xml output (COPY,
 *   binary or text) drops a leading `<?xml version="1.0"?>` declaration the value holds:
 *   the copy reads such a column as text.
 * - `array`, `domain`, `composite`, `range`: the shape of the column's type.
 */
export type TypeFlag = 'enum' | 'json' | 'nohash' | 'binary-unsafe' | 'xml' | 'array' | 'domain' | 'composite' | 'range';

interface TypeInfoRow {
  oid: number;
  typtype: string;
  elem: number | null;
  base: number | null;
  attrs: number[] | null;
  subtype: number | null;
  range_of: number | null;
  has_binary: boolean;
  hashable: boolean;
}

const JSON_OIDS = new Set([114, 3802]);
const XML_OID = 142;

function infoSql(version: number): string {
  const multi = version >= 140000;
  return `WITH RECURSIVE tt(oid) AS (
      SELECT DISTINCT x FROM unnest($1::oid[]) x
      UNION
      SELECT c.child FROM tt JOIN pg_type t ON t.oid = tt.oid
      CROSS JOIN LATERAL (
        SELECT t.typelem AS child WHERE t.typelem <> 0 AND t.typlen = -1
        UNION ALL SELECT t.typbasetype WHERE t.typtype = 'd'
        UNION ALL SELECT a.atttypid FROM pg_attribute a
          WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
        UNION ALL SELECT r.rngsubtype FROM pg_range r WHERE r.rngtypid = t.oid
        ${multi ? 'UNION ALL SELECT r.rngtypid FROM pg_range r WHERE r.rngmultitypid = t.oid' : ''}
      ) c
    )
    SELECT t.oid, t.typtype::text AS typtype,
      CASE WHEN t.typelem <> 0 AND t.typlen = -1 THEN t.typelem END AS elem,
      CASE WHEN t.typtype = 'd' THEN t.typbasetype END AS base,
      CASE WHEN t.typtype = 'c' THEN (SELECT array_agg(a.atttypid ORDER BY a.attnum) FROM pg_attribute a
        WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) END AS attrs,
      (SELECT r.rngsubtype FROM pg_range r WHERE r.rngtypid = t.oid) AS subtype,
      ${multi ? '(SELECT r.rngtypid FROM pg_range r WHERE r.rngmultitypid = t.oid)' : 'NULL::oid'} AS range_of,
      t.typsend <> 0 AND t.typreceive <> 0 AS has_binary,
      EXISTS (SELECT 1 FROM pg_opclass oc
        JOIN pg_am am ON am.oid = oc.opcmethod AND am.amname = 'hash'
        JOIN pg_amproc ap ON ap.amprocfamily = oc.opcfamily AND ap.amprocnum = 2
          AND ap.amproclefttype = oc.opcintype AND ap.amprocrighttype = oc.opcintype
        WHERE oc.opcdefault AND (oc.opcintype = t.oid OR oc.opcintype IN
          (SELECT ca.casttarget FROM pg_cast ca WHERE ca.castsource = t.oid AND ca.castmethod = 'b'))) AS hashable
    FROM pg_type t WHERE t.oid IN (SELECT oid FROM tt)`;
}

interface Props {
  enum: boolean;
  /** xml, through domains and arrays only (a composite or range of xml is not read as text). */
  xml: boolean;
  json: boolean;
  hashable: boolean;
  binarySafe: boolean;
}

/** Computes the flags of every given type OID (and of the types inside them) in one query. */
export async function readTypeFlags(
  client: pg.ClientBase,
  oids: number[],
  version: number,
): Promise<Map<number, TypeFlag[]>> {
  const info = new Map<number, TypeInfoRow>();
  for (const r of await rows<TypeInfoRow>(client, infoSql(version), [oids])) info.set(r.oid, r);
  const memo = new Map<number, Props>();
  const props = (oid: number, depth = 0): Props => {
    const cached = memo.get(oid);
    if (cached) return cached;
    const t = info.get(oid);
    const safe: Props = { enum: false, xml: false, json: false, hashable: true, binarySafe: true };
    if (!t || depth > 20) return safe;
    let p: Props;
    const all = (children: number[], hashRecord: boolean, oidsMustBeBuiltIn: boolean): Props => {
      const ps = children.map((c) => props(c, depth + 1));
      return {
        enum: ps.some((x) => x.enum),
        xml: false,
        json: ps.some((x) => x.json),
        hashable: hashRecord && ps.every((x) => x.hashable),
        binarySafe: ps.every((x) => x.binarySafe) && (!oidsMustBeBuiltIn || children.every((c) => c < FIRST_NORMAL_OID)),
      };
    };
    if (t.base !== null) p = props(t.base, depth + 1);
    else if (t.elem !== null) p = { ...all([t.elem], true, true), xml: props(t.elem, depth + 1).xml };
    else if (t.typtype === 'e') p = { enum: true, xml: false, json: false, hashable: true, binarySafe: true };
    else if (t.typtype === 'c') p = all(t.attrs ?? [], version >= 140000, true);
    else if (t.range_of !== null) p = props(t.range_of, depth + 1);
    else if (t.subtype !== null) p = all([t.subtype], true, false);
    else {
      p = {
        enum: false,
        xml: oid === XML_OID,
        json: JSON_OIDS.has(oid),
        hashable: t.hashable,
        binarySafe: t.has_binary && oid < FIRST_NORMAL_OID,
      };
    }
    if (!t.has_binary) p = { ...p, binarySafe: false };
    memo.set(oid, p);
    return p;
  };
  const out = new Map<number, TypeFlag[]>();
  for (const oid of oids) {
    const t = info.get(oid);
    const p = props(oid);
    const flags: TypeFlag[] = [];
    if (p.enum) flags.push('enum');
    if (p.json) flags.push('json');
    if (!p.hashable) flags.push('nohash');
    if (!p.binarySafe) flags.push('binary-unsafe');
    if (p.xml) flags.push('xml');
    let shape = t;
    while (shape && shape.base !== null) shape = info.get(shape.base);
    if (t?.base !== null && t?.base !== undefined) flags.push('domain');
    if (shape?.elem !== null && shape?.elem !== undefined) flags.push('array');
    else if (shape?.typtype === 'c') flags.push('composite');
    else if (shape?.typtype === 'r' || shape?.typtype === 'm') flags.push('range');
    out.set(oid, flags.sort());
  }
  return out;
}
