/**
 * PostgreSQL connection URLs. `redact` is the only way a URL reaches output:
 * the password becomes `***` (SPEC §6).
 */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/(\/\/[^:/@\s]+:)[^@\s]*@/g, '$1***@');
  }
}

/**
 * Replaces every occurrence of any known secret in free text (error messages from
 * servers, tools), and the password of every postgres URL. An occurrence that is a
 * URL's scheme (followed by `://`, as `postgres` in `postgres://`) is not a secret
 * and stays, so that a password equal to the scheme still leaves readable URLs.
 */
export function scrub(text: string, secrets: Iterable<string>): string {
  let out = text.replace(/(postgres(?:ql)?:\/\/[^:/@\s]+:)[^@\s*]+@/g, '$1***@');
  for (const s of secrets) {
    if (!s || s.length < 3) continue;
    const escaped = s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    out = out.replace(new RegExp(`${escaped}(?!:\\/\\/)`, 'g'), '***');
  }
  return out;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

export function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

export function userOf(url: string): string {
  return decodeURIComponent(new URL(url).username);
}

/** host:port of a URL, the identity of a server. */
export function serverOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || '5432'}`;
}

/** Same URL with a different user and password (for connecting as a service role). */
export function withCredentials(url: string, user: string, password: string | null): string {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = password ? encodeURIComponent(password) : '';
  return u.toString();
}
