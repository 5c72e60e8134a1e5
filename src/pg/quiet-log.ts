import type pg from 'pg';

/**
 * For a session whose statements carry a secret (CREATE SUBSCRIPTION's connection string,
 * a role's password verifier): its statements stay out of the server log (log_statement,
 * slow statements, failing statements, pgaudit). Superuser settings: a role that may not change them leaves them as they are.
 */
export async function quietStatementLog(client: Pick<pg.ClientBase, 'query'>): Promise<void> {
  // pgaudit.log: where the extension is loaded it logs DDL whatever log_statement says (elsewhere a harmless placeholder).
  for (const sql of [`SET log_statement = 'none'`, `SET log_min_duration_statement = -1`, `SET log_min_error_statement = 'panic'`, `SET pgaudit.log = 'none'`]) {
    await client.query(sql).catch(() => undefined);
  }
}
