import type pg from 'pg';

/**
 * The roles that can use each table of `schemas` today: its owner and every role named
 * in its privileges, less PUBLIC, superusers, the role reading and the roles the tool made.
 * Keyed like the catalog (`schema.name`). A service without a role of its own keeps
 * these roles' access to its new database (see databaseAccessSql).
 */
export async function readTableGrantees(client: pg.Client, schemas: string[]): Promise<Record<string, string[]>> {
  const r = await client.query<{ key: string; role: string }>(
    `SELECT DISTINCT n.nspname || '.' || c.relname AS key, r.rolname AS role
     FROM pg_class c
     JOIN pg_namespace n ON n.oid = c.relnamespace
     CROSS JOIN LATERAL (SELECT c.relowner AS grantee UNION SELECT (aclexplode(c.relacl)).grantee) g
     JOIN pg_roles r ON r.oid = g.grantee
     WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
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
