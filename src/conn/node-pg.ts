import type pg from 'pg';
import { PASSWORD_COMMAND_KEY, parseConnection, serverOf, type Connection } from './connection.js';
import { runPasswordCommand } from './password-command.js';
import { passwordFromEnvironment } from './pgpass.js';
import { nodeTlsOptions, tlsSettings } from './tls.js';

/** Keywords this file turns into node-postgres options itself; the others pass through. */
const OWN_KEYS = new Set(['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'sslcrl', 'sslcrldir', 'sslnegotiation', 'ssl', PASSWORD_COMMAND_KEY]);

/**
 * Run first in every session that reads or writes a split's rows as the tool's own role:
 * row-level security off, as pg_dump sets it. A table whose policies apply to the role
 * (FORCE ROW LEVEL SECURITY on a table it owns, or one it does not own) then fails the
 * statement instead of showing it fewer rows: a copy or a check that silently saw a
 * filtered table lost those rows. A superuser or a BYPASSRLS role reads everything either
 * way. A statement, not a startup option: poolers refuse startup options they do not know.
 */
export const ADMIN_SESSION_SQL = 'SET row_security = off';

/** How a connection is named in errors: `host:port` (or the socket folder) and the user. */
export function connectionLabel(c: Connection): string {
  const server = `${c.host || 'localhost'}:${c.port || '5432'}`;
  return c.user ? `user ${c.user} on ${server}` : server;
}

/**
 * The node-postgres configuration of a connection (any form `parseConnection` reads),
 * built from its parts rather than handed over as a connection string: TLS as libpq's
 * sslmode means it (see nodeTlsOptions), certificate files read now, and a
 * `passwordCommand` run for each new connection of a client or pool.
 * Pass `extra` for the caller's own options (application_name, timeouts, pool size);
 * keywords written in the connection string win over them, as with `connectionString`.
 */
export function nodePgConfig<T extends pg.ClientConfig | pg.PoolConfig>(url: string, extra?: T): T {
  const c = parseConnection(url);
  const where = `the connection to ${connectionLabel(c)}`;
  const passthrough: Record<string, string> = {};
  for (const [k, v] of Object.entries(c.params)) if (!OWN_KEYS.has(k)) passthrough[k] = v;
  const command = c.params[PASSWORD_COMMAND_KEY];
  const host = c.host || 'localhost';
  const port = c.port ? Number(c.port) : 5432;
  const user = c.user || undefined;
  const database = c.database || undefined;
  const password: pg.ClientConfig['password'] =
    command !== undefined && c.password === null
      ? () => runPasswordCommand(command, `${serverOf(url)} (user ${c.user || 'unset'})`)
      : (c.password ?? passwordFromEnvironment({ host, port, user, database }));
  return {
    ...extra,
    // As with a connection string: what the URL says (application_name, options) wins.
    ...passthrough,
    host,
    port,
    user,
    database,
    password,
    // libpq never uses TLS over a Unix socket (the server would refuse it there).
    ssl: c.host.startsWith('/') ? false : nodeTlsOptions(tlsSettings(c, where), where),
  } as T;
}
