import type pg from 'pg';

/**
 * The roles that can use each table of `schemas` today: its owner and every role named
 * in its privileges, less PUBLIC, superusers and the role reading (the tool's own).
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
     ORDER BY 1, 2`,
    [schemas],
  );
  const out: Record<string, string[]> = {};
  for (const row of r.rows) (out[row.key] ??= []).push(row.role);
  return out;
}
