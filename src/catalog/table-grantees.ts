import type pg from 'pg';

/**
 * The roles that can use each table of `schemas` today: its owner and every role named
 * in its privileges, and the roles that log in as members of those (directly or not),
 * less PUBLIC, superusers, the role reading and the roles the tool made.
 * Keyed like the catalog (`schema.name`). A service without a role of its own keeps
 * these roles' access to its new database (see databaseAccessSql).
 */
export async function readTableGrantees(client: pg.Client, schemas: string[]): Promise<Record<string, string[]>> {
  // With the roles that log in and reach a table through membership of one of those (PostgREST's NOINHERIT
  // `authenticator`, which SET ROLEs to `anon`): they connected to the source as anyone could.
  const r = await client.query<{ key: string; role: string }>(
    `WITH RECURSIVE direct AS (
       SELECT n.nspname || '.' || c.relname AS key, g.grantee AS oid
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         CROSS JOIN LATERAL (SELECT c.relowner AS grantee UNION SELECT (aclexplode(c.relacl)).grantee) g
        WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
     ), reach(key, oid, member) AS (
       SELECT key, oid, false FROM direct
       UNION
       SELECT x.key, m.member, true FROM reach x JOIN pg_auth_members m ON m.roleid = x.oid
     )
     SELECT DISTINCT x.key, r.rolname AS role
     FROM reach x
     JOIN pg_roles r ON r.oid = x.oid
     WHERE (NOT x.member OR r.rolcanlogin)
       AND NOT r.rolsuper AND r.rolname <> current_user
       -- Not the roles this tool makes (an online split's replication roles, found by their comment).
       AND NOT EXISTS (SELECT 1 FROM pg_shdescription sd WHERE sd.classoid = 'pg_authid'::regclass AND sd.objoid = r.oid AND sd.description LIKE 'cloudphone-split: %')
     ORDER BY 1, 2`,
    [schemas],
  );
  const out: Record<string, string[]> = {};
  for (const row of r.rows) (out[row.key] ??= []).push(row.role);
  return out;
}
