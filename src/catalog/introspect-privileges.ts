import type pg from 'pg';
import type { DefaultPrivilege, Privileges } from './model.js';
import { rows } from './introspect-util.js';

/** What privileges are read for: a relation (table, view, sequence), a function, a type, a schema. */
export type PrivilegeOwner = 'rel' | 'function' | 'type' | 'schema';

interface PrivilegeRow {
  kind: PrivilegeOwner;
  oid: number;
  col: string | null;
  grantee: string | null;
  privilege: string;
  grantable: boolean;
  revoke: boolean;
}

/**
 * Privileges of the given objects that differ from what they start with: the
 * object's initial privileges (pg_init_privs: the public schema's) or else
 * acldefault. Grants to the owner are left out (the owner changes in the split);
 * revokes are read for PUBLIC only (EXECUTE on a function, USAGE on a type...).
 * As pg_dump's ACL comparison does, objects whose ACL was never set are skipped.
 * Grantees keep the order of the ACL (the order they were granted in), which is
 * what pg_dump prints.
 */
const SQL = `WITH objs(kind, oid, sub, acl, owner, objtype, classid) AS (
    SELECT 'rel', c.oid, 0, c.relacl, c.relowner, CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END, 'pg_class'::regclass
      FROM pg_class c WHERE c.oid = ANY($1::oid[]) AND c.relacl IS NOT NULL
    UNION ALL SELECT 'rel', a.attrelid, a.attnum, a.attacl, c.relowner, 'c', 'pg_class'::regclass
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL
    UNION ALL SELECT 'function', p.oid, 0, p.proacl, p.proowner, 'f', 'pg_proc'::regclass
      FROM pg_proc p WHERE p.oid = ANY($2::oid[]) AND p.proacl IS NOT NULL
    UNION ALL SELECT 'type', t.oid, 0, t.typacl, t.typowner, 'T', 'pg_type'::regclass
      FROM pg_type t WHERE t.oid = ANY($3::oid[]) AND t.typacl IS NOT NULL
    UNION ALL SELECT 'schema', n.oid, 0, n.nspacl, n.nspowner, 'n', 'pg_namespace'::regclass
      FROM pg_namespace n WHERE n.nspname = ANY($4::text[]) AND n.nspacl IS NOT NULL
  ),
  base AS (
    SELECT o.*, coalesce(
      (SELECT ip.initprivs FROM pg_init_privs ip WHERE ip.classoid = o.classid AND ip.objoid = o.oid AND ip.objsubid = o.sub),
      acldefault(o.objtype::"char", o.owner)) AS initial
    FROM objs o
  )
  SELECT b.kind, b.oid, b.sub, e.n, CASE WHEN b.sub > 0 THEN (SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = b.oid AND a.attnum = b.sub) END AS col,
    CASE WHEN e.grantee = 0 THEN NULL ELSE pg_get_userbyid(e.grantee)::text END AS grantee,
    e.privilege_type AS privilege, e.is_grantable AS grantable, false AS revoke
  FROM base b, aclexplode(b.acl) WITH ORDINALITY e(grantor, grantee, privilege_type, is_grantable, n)
  WHERE e.grantee <> b.owner
    -- The roles this tool makes (an online split's replication roles) are its own, not the source's.
    AND NOT EXISTS (SELECT 1 FROM pg_shdescription sd WHERE sd.classoid = 'pg_authid'::regclass AND sd.objoid = e.grantee AND sd.description LIKE 'cloudphone-split: %')
    AND NOT EXISTS (SELECT 1 FROM aclexplode(b.initial) i
                    WHERE i.grantee = e.grantee AND i.privilege_type = e.privilege_type AND i.is_grantable = e.is_grantable)
  UNION ALL
  SELECT b.kind, b.oid, b.sub, 0, NULL, NULL, d.privilege_type, false, true
  FROM base b, aclexplode(b.initial) d
  WHERE d.grantee = 0 AND b.sub = 0
    AND NOT EXISTS (SELECT 1 FROM aclexplode(b.acl) a WHERE a.grantee = 0 AND a.privilege_type = d.privilege_type)
  ORDER BY 1, 2, 3, 4`;

/** Privileges by `kind:oid` (columns folded into their relation's entry). Only objects with something to grant or revoke. */
export async function readPrivileges(
  client: pg.ClientBase,
  objects: { relations: number[]; functions: number[]; types: number[]; schemas: string[] },
): Promise<Map<string, Privileges>> {
  const found = await rows<PrivilegeRow>(client, SQL, [objects.relations, objects.functions, objects.types, objects.schemas]);
  const out = new Map<string, Privileges>();
  type Grants = Privileges['grants'];
  const add = (list: Grants, r: PrivilegeRow) => {
    let g = list.find((x) => x.grantee === r.grantee);
    if (!g) list.push((g = { grantee: r.grantee, privileges: [], grantable: [] }));
    g.privileges.push(r.privilege);
    if (r.grantable) g.grantable.push(r.privilege);
  };
  for (const r of found) {
    const key = `${r.kind}:${r.oid}`;
    const p = out.get(key) ?? { grants: [], revokedFromPublic: [] };
    out.set(key, p);
    if (r.revoke) p.revokedFromPublic.push(r.privilege);
    else if (r.col !== null) add(((p.columns ??= {})[r.col] ??= []), r);
    else add(p.grants, r);
  }
  const order = (g: Grants) => {
    for (const x of g) {
      x.privileges.sort();
      x.grantable.sort();
    }
    return g;
  };
  for (const p of out.values()) {
    order(p.grants);
    p.revokedFromPublic.sort();
    if (p.columns) {
      const sorted: NonNullable<Privileges['columns']> = {};
      for (const c of Object.keys(p.columns).sort()) sorted[c] = order(p.columns[c]!);
      p.columns = sorted;
    }
  }
  return out;
}

/** Schemas with their comments. */
export async function readNamespaces(client: pg.ClientBase, schemas: string[]): Promise<Array<{ oid: number; name: string; comment: string | null }>> {
  return rows(
    client,
    `SELECT n.oid, n.nspname::text AS name, obj_description(n.oid, 'pg_namespace') AS comment
     FROM pg_namespace n WHERE n.nspname = ANY($1::text[]) ORDER BY n.nspname::text COLLATE "C"`,
    [schemas],
  );
}

const DEFAULT_OBJECTS: Record<string, DefaultPrivilege['objects']> = { r: 'tables', S: 'sequences', f: 'functions', T: 'types', n: 'schemas' };

/** The database's default privileges, global or for one of `schemas`, each with what it grants. */
export async function readDefaultPrivileges(client: pg.ClientBase, schemas: string[]): Promise<DefaultPrivilege[]> {
  const found = await rows<{ role: string; schema: string | null; objtype: string; grants: string[] }>(
    client,
    `SELECT pg_catalog.pg_get_userbyid(d.defaclrole) AS role, n.nspname AS schema, d.defaclobjtype::text AS objtype,
            coalesce((SELECT array_agg(g ORDER BY g) FROM (
                        SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee) END || ' ' || a.privilege_type AS g
                          FROM pg_catalog.aclexplode(d.defaclacl) AS a WHERE a.grantee <> d.defaclrole) AS x), '{}') AS grants
       FROM pg_catalog.pg_default_acl d LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
      WHERE d.defaclnamespace = 0 OR n.nspname = ANY($1::text[])
      ORDER BY 1, 2 NULLS FIRST, 3`,
    [schemas],
  );
  return found.map((r) => ({ role: r.role, schema: r.schema, objects: DEFAULT_OBJECTS[r.objtype] ?? 'tables', grants: r.grants }));
}
