import type pg from 'pg';
import type { Extension, FunctionDef, Sequence } from './model.js';
import { commentSql, rows } from './introspect-util.js';
import { readAggregateDdl } from './introspect-aggregates.js';

interface SequenceRow {
  oid: number;
  schema: string;
  name: string;
  data_type: string;
  start: string;
  increment: string;
  min: string;
  max: string;
  cache: string;
  cycle: boolean;
  unlogged: boolean;
  owner_rel: number | null;
  owner_schema: string | null;
  owner_name: string | null;
  owner_column: string | null;
  deptype: string | null;
  comment: string | null;
}

export interface SequenceInfo {
  oid: number;
  sequence: Sequence;
  /** pg_class OID and attnum of the owning column, when owned. */
  owner: { relid: number } | null;
}

/**
 * Sequences of the selected schemas, the ones named by OID (used by defaults),
 * and the ones owned by the given tables (serial and identity), wherever they live.
 */
export async function readSequences(
  client: pg.ClientBase,
  schemas: string[],
  oids: number[],
  ownerRelids: number[],
): Promise<SequenceInfo[]> {
  const found = await rows<SequenceRow>(
    client,
    `SELECT c.oid, n.nspname::text AS schema, c.relname::text AS name, format_type(s.seqtypid, NULL) AS data_type,
        s.seqstart::text AS start, s.seqincrement::text AS increment, s.seqmin::text AS min, s.seqmax::text AS max,
        s.seqcache::text AS cache, s.seqcycle AS cycle, c.relpersistence = 'u' AS unlogged,
        dep.refobjid AS owner_rel, on_.nspname::text AS owner_schema, oc.relname::text AS owner_name,
        oa.attname::text AS owner_column, dep.deptype::text AS deptype,
        ${commentSql('pg_class', 'c.oid')} AS comment
     FROM pg_class c
     JOIN pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_sequence s ON s.seqrelid = c.oid
     LEFT JOIN pg_depend dep ON dep.classid = 'pg_class'::regclass AND dep.objid = c.oid
       AND dep.refclassid = 'pg_class'::regclass AND dep.refobjsubid > 0 AND dep.deptype IN ('a', 'i')
     LEFT JOIN pg_class oc ON oc.oid = dep.refobjid
     LEFT JOIN pg_namespace on_ ON on_.oid = oc.relnamespace
     LEFT JOIN pg_attribute oa ON oa.attrelid = dep.refobjid AND oa.attnum = dep.refobjsubid
     WHERE c.relkind = 'S' AND (n.nspname = ANY($1::text[]) OR c.oid = ANY($2::oid[]) OR dep.refobjid = ANY($3::oid[]))`,
    [schemas, oids, ownerRelids],
  );
  return found.map((r) => ({
    oid: r.oid,
    owner: r.owner_rel !== null ? { relid: r.owner_rel } : null,
    sequence: {
      schema: r.schema,
      name: r.name,
      dataType: r.data_type,
      start: r.start,
      increment: r.increment,
      min: r.min,
      max: r.max,
      cache: r.cache,
      cycle: r.cycle,
      unlogged: r.unlogged,
      ownedBy:
        r.owner_schema !== null && r.owner_name !== null && r.owner_column !== null
          ? { table: { schema: r.owner_schema, name: r.owner_name }, column: r.owner_column }
          : null,
      identity: r.deptype === 'i',
      comment: r.comment,
    },
  }));
}

interface FunctionRow {
  oid: number;
  schema: string;
  name: string;
  args: string;
  kind: 'f' | 'p' | 'a' | 'w';
  def: string | null;
  signature: string;
  /** The body as written (null for C and internal functions' symbol, and aggregates). */
  src: string | null;
  language: string;
  /** The `SET search_path` the function carries, as stored (`app, "My Schema", public`). */
  path: string | null;
  comment: string | null;
}

/** A function as read, with what its body says in raw form (resolved against the catalog later). */
export interface FunctionInfo {
  def: FunctionDef;
  /** Body text of an interpreted language (plpgsql, sql...), for `bodyReferences`. */
  src: string | null;
  path: string[] | null;
}

/**
 * Functions, procedures, window functions and aggregates by OID: pg_get_functiondef,
 * or for an aggregate the CREATE AGGREGATE built from pg_aggregate.
 */
export async function readFunctions(client: pg.ClientBase, oids: number[]): Promise<Map<number, FunctionInfo>> {
  const out = new Map<number, FunctionInfo>();
  if (oids.length === 0) return out;
  const found = await rows<FunctionRow>(
    client,
    `SELECT p.oid, n.nspname::text AS schema, p.proname::text AS name, p.prokind::text AS kind,
        pg_get_function_identity_arguments(p.oid) AS args,
        CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END AS def,
        p.oid::regprocedure::text AS signature,
        CASE WHEN l.lanname NOT IN ('c', 'internal') THEN p.prosrc END AS src, l.lanname::text AS language,
        (SELECT substr(c, 13) FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%') AS path,
        ${commentSql('pg_proc', 'p.oid')} AS comment
     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
     WHERE p.oid = ANY($1::oid[])`,
    [oids],
  );
  const aggregates = await readAggregateDdl(client, found.filter((r) => r.kind === 'a').map((r) => r.oid));
  for (const r of found) {
    const def: FunctionDef = {
      schema: r.schema,
      name: r.name,
      identityArgs: r.args,
      kind: r.kind,
      ddl: (r.kind === 'a' ? aggregates.get(r.oid)! : r.def!).trimEnd(),
      dependsOn: [],
      comment: r.comment,
      signature: r.signature,
    };
    out.set(r.oid, { def, src: r.src, path: r.path === null ? null : searchPathSchemas(r.path) });
  }
  return out;
}

/** Extensions by OID. */
export async function readExtensions(client: pg.ClientBase, oids: number[]): Promise<Map<number, Extension>> {
  const out = new Map<number, Extension>();
  if (oids.length === 0) return out;
  const found = await rows<{ oid: number; name: string; schema: string; version: string }>(
    client,
    `SELECT e.oid, e.extname::text AS name, n.nspname::text AS schema, e.extversion AS version
     FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.oid = ANY($1::oid[])`,
    [oids],
  );
  for (const r of found) out.set(r.oid, { name: r.name, schema: r.schema, version: r.version });
  return out;
}

/**
 * The schemas of a search_path setting as the server stores it (`app, "My Schema", public`):
 * split at commas outside double quotes, each part trimmed, a quoted one unquoted.
 */
export function searchPathSchemas(value: string): string[] {
  const out: string[] = [];
  let part = '';
  let quoted = false;
  const push = (): void => {
    const t = part.trim();
    const name = /^".*"$/s.test(t) ? t.slice(1, -1).replaceAll('""', '"') : t;
    if (name) out.push(name);
    part = '';
  };
  for (const ch of value) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) push();
    else part += ch;
  }
  push();
  return out;
}
