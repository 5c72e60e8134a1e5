import pgpass from 'pgpass';

/**
 * The password libpq would take for a connection given without one: `PGPASSWORD`, else
 * the matching line of the password file (`PGPASSFILE`, else `~/.pgpass`, mode 0600 or
 * stricter), else none. node-postgres reads the file itself only through a path it
 * deprecates (a warning on every run, and gone in its next major): it is read here,
 * with the same reader, for each new connection.
 */
export function passwordFromEnvironment(c: { host: string; port: number; database?: string; user?: string }): () => Promise<string> {
  // node-postgres connects without a password when the function gives undefined; its type says string only.
  return () => {
    const fromEnv = process.env.PGPASSWORD;
    if (fromEnv !== undefined) return Promise.resolve(fromEnv);
    return new Promise<string | undefined>((resolve) => pgpass({ host: c.host, port: c.port, database: c.database, user: c.user }, resolve)) as Promise<string>;
  };
}
