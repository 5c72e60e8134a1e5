import { PASSWORD_COMMAND_KEY, parseConnection, serverOf, toUrl, withoutKeys } from './connection.js';
import { runPasswordCommand } from './password-command.js';

/**
 * A connection for a libpq program (pg_dump): the URL it gets on its command line,
 * without the password, and the environment that carries the password (PGPASSWORD,
 * from the connection or a fresh run of its `passwordCommand`). sslmode, sslrootcert,
 * sslcert and sslkey stay in the URL: libpq reads them with their own meanings, which
 * the node-postgres side of this tool follows (see tls.ts).
 */
export async function libpqProgramConnection(url: string, env: NodeJS.ProcessEnv = process.env): Promise<{ url: string; env: NodeJS.ProcessEnv }> {
  const c = parseConnection(url);
  const command = c.params[PASSWORD_COMMAND_KEY];
  let password = c.password;
  if (password === null && command !== undefined) password = await runPasswordCommand(command, `${serverOf(url)} (user ${c.user || 'unset'})`, env);
  const childEnv: NodeJS.ProcessEnv = { ...env };
  if (password !== null && password !== '') childEnv.PGPASSWORD = password;
  return { url: toUrl({ ...c, password: null, params: withoutKeys(c.params, [PASSWORD_COMMAND_KEY]) }), env: childEnv };
}

/**
 * The connection string a server uses to reach another one (CREATE SUBSCRIPTION ...
 * CONNECTION), logging in as `user` with `password`. It keeps sslmode and sslrootcert:
 * the root certificate path is opened by the subscribing server, so it must exist on
 * that server's host and be readable by its operating-system user. The client
 * certificate and key of the tool's own connection are left out: they identify the
 * tool's user, not `user`; nor is a password command kept.
 */
export function serverToServerConnection(url: string, user: string, password: string): string {
  const c = parseConnection(url);
  return toUrl({ ...c, user, password, params: withoutKeys(c.params, [PASSWORD_COMMAND_KEY, 'sslcert', 'sslkey', 'sslpassword']) });
}
