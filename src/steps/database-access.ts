import { ident } from '../pg/quote.js';

/**
 * For a service without a role of its own: the roles that used its tables in the source
 * keep connecting, to the new database (CONNECT and TEMPORARY, what they had through
 * PUBLIC on the old one). Their access to the tables themselves travels with the tables.
 */
export function databaseAccessSql(database: string, roles: string[]): string[] {
  if (roles.length === 0) return [];
  return [`GRANT CONNECT, TEMPORARY ON DATABASE ${ident(database)} TO ${roles.map(ident).join(', ')}`];
}
