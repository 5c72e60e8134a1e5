/**
 * A postgres URL split the way libpq reads it, as raw text: each part is the exact
 * substring of the input, so putting the parts back together gives the input byte
 * for byte. `postgres://user:pass@host1:5432,host2/db?sslmode=require`.
 */
export interface PostgresUrlParts {
  /** `postgres://` or `postgresql://`, as written. */
  scheme: string;
  /** `user:pass@` (with the `@`), or empty. */
  userinfo: string;
  /** `host:port`, several comma-separated, `[::1]:5432`, or empty (local socket). */
  hosts: string;
  /** `/dbname` (with the `/`), or empty. */
  path: string;
  /** `?params` (with the `?`), or empty. */
  query: string;
}

/** Finds postgres URLs inside free text (`DATABASE_URL`, `jdbc:postgresql://...`). */
export const POSTGRES_URL = /postgres(?:ql)?:\/\/[^\s'"`<>]*/gi;

export function splitPostgresUrl(url: string): PostgresUrlParts | null {
  const m = /^postgres(?:ql)?:\/\//i.exec(url);
  if (!m) return null;
  const scheme = m[0];
  let rest = url.slice(scheme.length);
  // libpq: credentials end at the first '@' that comes before any '/'.
  let userinfo = '';
  const stop = rest.search(/[@/]/);
  if (stop >= 0 && rest[stop] === '@') {
    userinfo = rest.slice(0, stop + 1);
    rest = rest.slice(stop + 1);
  }
  const hostEnd = rest.search(/[/?]/);
  const hosts = hostEnd < 0 ? rest : rest.slice(0, hostEnd);
  rest = hostEnd < 0 ? '' : rest.slice(hostEnd);
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? '' : rest.slice(q);
  return { scheme, userinfo, hosts, path, query };
}

export function joinPostgresUrl(p: PostgresUrlParts): string {
  return p.scheme + p.userinfo + p.hosts + p.path + p.query;
}
