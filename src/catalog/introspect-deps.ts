import type pg from 'pg';
import { FIRST_NORMAL_OID, rows } from './introspect-util.js';

/**
 * What a dependency resolves to: objects the copy has to recreate (or an extension that
 * brings them), and `uncarried`: a user's object of a kind the split does not create in
 * a new database (a base type with its own input and output functions, an operator, an
 * operator class or family, an index access method), which no extension brings.
 */
export type DepKind = 'type' | 'function' | 'sequence' | 'relation' | 'extension' | 'uncarried';

/** One direct need of a relation, type or function, found through pg_depend. */
export interface DepEdge {
  owner: 'rel' | 'type' | 'function';
  ownerOid: number;
  kind: DepKind;
  oid: number;
  /** For `uncarried`: what it is, as PostgreSQL describes it (`operator class int42_ops for access method btree`). */
  what?: string | null;
}

/**
 * Types and functions (of every kind) of the selected schemas that no extension
 * brings and that are not part of another object (a range type's constructor
 * functions come with CREATE TYPE): the seeds of `walkDependencies`, so that each one
 * is read and accounted for.
 */
export async function schemaRoutines(client: pg.ClientBase, schemas: string[]): Promise<{ types: number[]; functions: number[] }> {
  const notExtension = (classid: string, oid: string) =>
    `NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = '${classid}'::regclass AND x.objid = ${oid} AND x.deptype = 'e')`;
  const functions = await rows<{ oid: number }>(
    client,
    `SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = ANY($1::text[]) AND ${notExtension('pg_proc', 'p.oid')}
       AND NOT EXISTS (SELECT 1 FROM pg_depend i WHERE i.classid = 'pg_proc'::regclass AND i.objid = p.oid AND i.deptype = 'i')`,
    [schemas],
  );
  const types = await rows<{ oid: number }>(
    client,
    `SELECT t.oid FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
     LEFT JOIN pg_class c ON c.oid = t.typrelid
     WHERE n.nspname = ANY($1::text[]) AND ${notExtension('pg_type', 't.oid')}
       AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND c.relkind = 'c'))`,
    [schemas],
  );
  return { types: types.map((r) => r.oid), functions: functions.map((r) => r.oid) };
}

/**
 * Direct dependencies of the given relations (with their defaults, constraints,
 * indexes, triggers, policies and view rules), types (with a composite's
 * attributes and a domain's constraints) and functions, in ONE query.
 *
 * Triggers: the user's, never the internal ones of foreign keys. A partition's clone
 * of its parent's trigger counts (it calls the same function): before PostgreSQL 15
 * such clones are marked internal too, so they are told apart from foreign key
 * triggers by having a parent trigger and no constraint (as readTriggers does).
 *
 * pg_depend rows are normalised the way pg_dump reasons about them: an array type
 * stands for its element type, a composite's pg_class row for its type, a
 * multirange for its range, a table's or view's row type for that relation (a
 * function returning `ci_builds` needs the table); any object that belongs to an extension stands for
 * that extension; built-in objects (OID below 16384) are dropped.
 */
function edgesSql(version: number): string {
  const multirange = version >= 140000;
  return `WITH seeds(okind, owner, classid, objid) AS (
      SELECT 'rel', r.oid, 'pg_class'::regclass, r.oid FROM unnest($1::oid[]) r(oid)
      UNION ALL SELECT 'rel', ad.adrelid, 'pg_attrdef'::regclass, ad.oid FROM pg_attrdef ad WHERE ad.adrelid = ANY($1::oid[])
      UNION ALL SELECT 'rel', co.conrelid, 'pg_constraint'::regclass, co.oid FROM pg_constraint co WHERE co.conrelid = ANY($1::oid[])
      UNION ALL SELECT 'rel', i.indrelid, 'pg_class'::regclass, i.indexrelid FROM pg_index i WHERE i.indrelid = ANY($1::oid[])
      UNION ALL SELECT 'rel', tg.tgrelid, 'pg_trigger'::regclass, tg.oid FROM pg_trigger tg WHERE tg.tgrelid = ANY($1::oid[])
        AND (NOT tg.tgisinternal OR (tg.tgparentid <> 0 AND tg.tgconstraint = 0))
      UNION ALL SELECT 'rel', po.polrelid, 'pg_policy'::regclass, po.oid FROM pg_policy po WHERE po.polrelid = ANY($1::oid[])
      UNION ALL SELECT 'rel', rw.ev_class, 'pg_rewrite'::regclass, rw.oid FROM pg_rewrite rw WHERE rw.ev_class = ANY($1::oid[])
      UNION ALL SELECT 'type', t.oid, 'pg_type'::regclass, t.oid FROM unnest($2::oid[]) t(oid)
      UNION ALL SELECT 'type', t.oid, 'pg_class'::regclass, t.typrelid FROM pg_type t WHERE t.oid = ANY($2::oid[]) AND t.typrelid <> 0
      UNION ALL SELECT 'type', co.contypid, 'pg_constraint'::regclass, co.oid FROM pg_constraint co WHERE co.contypid = ANY($2::oid[])
      UNION ALL SELECT 'function', p.oid, 'pg_proc'::regclass, p.oid FROM unnest($3::oid[]) p(oid)
    ),
    refs AS (
      SELECT DISTINCT s.okind, s.owner, d.refclassid, d.refobjid
      FROM seeds s JOIN pg_depend d ON d.classid = s.classid AND d.objid = s.objid
      WHERE d.deptype IN ('n', 'a')
    ),
    norm AS (
      SELECT r.okind, r.owner,
        CASE WHEN rc.relkind = 'c' THEN 'pg_type'::regclass ELSE r.refclassid END AS classid,
        CASE WHEN el.oid IS NOT NULL THEN el.oid
             WHEN rc.relkind = 'c' THEN rc.reltype
             ${multirange ? 'WHEN mr.rngtypid IS NOT NULL THEN mr.rngtypid' : ''}
             ELSE r.refobjid END AS oid
      FROM refs r
      LEFT JOIN pg_type el ON r.refclassid = 'pg_type'::regclass AND el.typarray = r.refobjid
      LEFT JOIN pg_class rc ON r.refclassid = 'pg_class'::regclass AND rc.oid = r.refobjid
      ${multirange ? `LEFT JOIN pg_range mr ON r.refclassid = 'pg_type'::regclass AND mr.rngmultitypid = r.refobjid` : ''}
    ),
    resolved AS (
      SELECT n.okind, n.owner,
        CASE
          WHEN x.refobjid IS NOT NULL THEN CASE WHEN x.refobjid >= ${FIRST_NORMAL_OID} THEN 'extension' END
          WHEN n.oid < ${FIRST_NORMAL_OID} THEN NULL
          WHEN n.classid = 'pg_type'::regclass THEN
            CASE WHEN t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND tr.relkind = 'c') THEN 'type'
                 WHEN t.typtype = 'c' AND tr.relkind IN ('r', 'p', 'v', 'm', 'f') THEN 'relation'
                 WHEN t.typtype IN ('b', 'p') THEN 'uncarried' END
          WHEN n.classid IN ('pg_operator'::regclass, 'pg_opclass'::regclass, 'pg_opfamily'::regclass) THEN 'uncarried'
          WHEN n.classid = 'pg_proc'::regclass THEN 'function'
          WHEN n.classid = 'pg_class'::regclass THEN
            CASE WHEN c.relkind = 'S' THEN 'sequence' WHEN c.relkind IN ('r', 'p', 'v', 'm', 'f') THEN 'relation' END
        END AS kind,
        CASE WHEN x.refobjid IS NULL AND t.typtype = 'c' AND tr.relkind IN ('r', 'p', 'v', 'm', 'f') THEN tr.oid
             ELSE coalesce(x.refobjid, n.oid) END AS oid,
        n.classid AS dclass
      FROM norm n
      LEFT JOIN pg_depend x ON x.classid = n.classid AND x.objid = n.oid AND x.objsubid = 0 AND x.deptype = 'e'
      LEFT JOIN pg_type t ON n.classid = 'pg_type'::regclass AND t.oid = n.oid
      LEFT JOIN pg_class tr ON tr.oid = t.typrelid
      LEFT JOIN pg_proc p ON n.classid = 'pg_proc'::regclass AND p.oid = n.oid
      LEFT JOIN pg_class c ON n.classid = 'pg_class'::regclass AND c.oid = n.oid
    )
    SELECT DISTINCT okind AS owner, owner AS "ownerOid", kind, oid, CASE WHEN kind = 'uncarried' THEN pg_describe_object(dclass, oid, 0) END AS what
      FROM resolved WHERE kind IS NOT NULL`;
}

/**
 * Walks dependencies from the relations (and from the seed types and functions: every
 * one of the selected schemas, so that each is accounted for) to every type and
 * function they need, transitively, one bulk query per level of nesting (usually two
 * or three). Aggregates count as functions (a view's `group_concat`), and so do their
 * state, final and combine functions. Returns all direct edges found; self-edges are
 * dropped.
 */
export async function walkDependencies(
  client: pg.ClientBase,
  relids: number[],
  version: number,
  seeds: { types: number[]; functions: number[] } = { types: [], functions: [] },
): Promise<DepEdge[]> {
  const sql = edgesSql(version);
  const edges: DepEdge[] = [];
  const seenTypes = new Set<number>(seeds.types);
  const seenFunctions = new Set<number>(seeds.functions);
  let rels = relids;
  let types: number[] = [...seenTypes];
  let functions: number[] = [...seenFunctions];
  while (rels.length + types.length + functions.length > 0) {
    const found = await rows<DepEdge>(client, sql, [rels, types, functions]);
    rels = [];
    types = [];
    functions = [];
    for (const e of found) {
      if (e.kind === e.owner.replace('rel', 'relation') && e.oid === e.ownerOid) continue;
      edges.push(e);
      if (e.kind === 'type' && !seenTypes.has(e.oid)) {
        seenTypes.add(e.oid);
        types.push(e.oid);
      } else if (e.kind === 'function' && !seenFunctions.has(e.oid)) {
        seenFunctions.add(e.oid);
        functions.push(e.oid);
      }
    }
  }
  return edges;
}
