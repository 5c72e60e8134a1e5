import { parse as parseUrl } from 'pg-connection-string';
import { BadInputError } from '../errors.js';
import { parseKeywordValue } from './libpq-keywords.js';

/**
 * A connection to one PostgreSQL database, read from any form libpq accepts: a
 * `postgres://` URL (userinfo or `?password=`, percent-encoded), a key=value string
 * (`host=db password='a b' dbname=app`), or a Unix socket
 * (`postgres://user@/db?host=/var/run/postgresql`, `host=/var/run/postgresql`).
 * Every other part of the tool passes connections around as `toUrl` gives them.
 */
export interface Connection {
  /** Host name, IP address, or a Unix socket folder (starts with `/`); '' = localhost. */
  host: string;
  /** '' = 5432. */
  port: string;
  user: string;
  password: string | null;
  database: string;
  /** Every other keyword (sslmode, application_name, options, ...). */
  params: Record<string, string>;
}

/** libpq keywords naming files, never read by the parser. */
const FILE_KEYS = ['sslrootcert', 'sslcert', 'sslkey', 'sslcrl', 'sslcrldir'] as const;

/**
 * Not a libpq keyword: the manifest's `passwordCommand`, carried with the connection
 * so that every connection made from it runs the command (see password-command.ts).
 * Left out of what libpq consumers and output see.
 */
export const PASSWORD_COMMAND_KEY = 'passwordcommand';

const URL_SCHEME = /^postgres(?:ql)?:\/\//i;
const ENCODE_FIX =
  'percent-encode the special characters of the password (@ as %40, # as %23, / as %2F, ? as %3F, % as %25, space as %20), ' +
  "or write the key=value form: host=db.internal port=5432 dbname=app user=app password='p@ss#word'";

function urlForm(text: string, at: string): Connection {
  if (text.includes('#')) {
    throw new BadInputError(
      `${at}the connection URL holds an unencoded "#", which starts a URL fragment: what follows it would be cut off`,
      `write it as %23 (a password a#b is written a%23b), or ${ENCODE_FIX.slice(ENCODE_FIX.indexOf('write the key=value'))}`,
    );
  }
  // pg-connection-string reads certificate files while parsing and gives sslmode its
  // own meaning (with a warning): these are taken out first and kept as libpq wrote
  // them (read when connecting, see node-pg.ts and tls.ts).
  const files: Record<string, string> = {};
  const q = text.indexOf('?');
  let rest = text;
  let order: string[] = [];
  if (q !== -1) {
    const query = new URLSearchParams(text.slice(q + 1));
    order = [...query.keys()];
    for (const key of [...FILE_KEYS, 'sslmode']) {
      const v = query.get(key);
      if (v !== null) files[key] = v;
      query.delete(key);
    }
    const left = query.toString();
    rest = text.slice(0, q) + (left ? `?${left}` : '');
  }
  let parsed: ReturnType<typeof parseUrl>;
  try {
    parsed = parseUrl(rest);
  } catch {
    // The parser's message may quote the input: it is never shown.
    throw new BadInputError(`${at}not a valid connection URL`, ENCODE_FIX);
  }
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (['user', 'password', 'host', 'port', 'database', 'ssl', 'dbname'].includes(k)) continue;
    if (typeof v === 'string') params[k] = v;
  }
  Object.assign(params, files);
  // Keywords in the order written (the URL round-trips unchanged).
  const keys = [...new Set([...order.filter((k) => k in params), ...Object.keys(params)])];
  const ordered = Object.fromEntries(keys.map((k) => [k, params[k]!] as const));
  const dbname = typeof parsed.dbname === 'string' ? parsed.dbname : '';
  return {
    host: parsed.host ?? '',
    port: parsed.port ?? '',
    user: parsed.user ?? '',
    password: parsed.password ? parsed.password : null,
    database: parsed.database || dbname,
    params: ordered,
  };
}

function keywordForm(text: string, at: string): Connection {
  const kv = parseKeywordValue(text);
  if (kv === null) {
    throw new BadInputError(
      `${at}not a valid key=value connection string`,
      "write key=value pairs separated by spaces, quoting values with spaces: host=db.internal dbname=app user=app password='a b'",
    );
  }
  const c: Connection = { host: '', port: '', user: '', password: null, database: '', params: {} };
  for (const [k, v] of kv) {
    if (k === 'host') c.host = v;
    else if (k === 'port') c.port = v;
    else if (k === 'user') c.user = v;
    else if (k === 'password') c.password = v === '' ? null : v;
    else if (k === 'dbname') c.database = v;
    else c.params[k] = v;
  }
  return c;
}

/** libpq's several hosts (`h1:5432,h2:5432`, `host=h1,h2`): the split reads, fences and writes one server. */
function oneHost(c: Connection, at: string): Connection {
  if (!c.host.includes(',') && !c.port.includes(',')) return c;
  throw new BadInputError(
    `${at}the connection string names several hosts: the split fences and writes one server, and a standby among them would refuse its writes`,
    'name the primary\'s host (and port) only',
  );
}

/** Reads a connection string in any accepted form; BadInputError (exit 2) naming `where`, never quoting the text. */
export function parseConnection(text: string, where?: string): Connection {
  const at = where ? `${where}: ` : '';
  const t = text.trim();
  if (URL_SCHEME.test(t)) {
    // pg-connection-string cannot read several hosts: told apart before it says "not a valid URL".
    const authority = /^postgres(?:ql)?:\/\/([^/?]*)/i.exec(t)?.[1] ?? '';
    if (authority.slice(authority.lastIndexOf('@') + 1).includes(',')) return oneHost({ host: ',', port: '', user: '', password: null, database: '', params: {} }, at);
    return oneHost(urlForm(t, at), at);
  }
  if (/^[A-Za-z_][A-Za-z0-9_]*\s*=/.test(t)) return oneHost(keywordForm(t, at), at);
  throw new BadInputError(
    `${at}not a connection string (neither a postgres:// URL nor key=value pairs)`,
    'write postgres://user:password@host:5432/database, or host=... port=... dbname=... user=... password=...',
  );
}

function hostPart(host: string): string {
  if (host === '') return 'localhost';
  if (host.startsWith('/')) return encodeURIComponent(host);
  if (host.includes(':')) return `[${host}]`;
  return host;
}

/**
 * The one URL form the tool uses internally: `postgres://user:password@host:port/db?k=v`,
 * every part percent-encoded, a socket folder as an encoded host (`%2Fvar%2Frun%2Fpostgresql`).
 * Read alike by `new URL`, node-postgres and libpq (subscriptions, pg_dump).
 */
export function toUrl(c: Connection): string {
  const user = encodeURIComponent(c.user);
  const password = c.password !== null && c.password !== '' ? `:${encodeURIComponent(c.password)}` : '';
  const auth = user || password ? `${user}${password}@` : '';
  const port = c.port ? `:${c.port}` : '';
  const path = c.database ? `/${encodeURIComponent(c.database)}` : '';
  const query = new URLSearchParams(c.params).toString();
  return `postgres://${auth}${hostPart(c.host)}${port}${path}${query ? `?${query}` : ''}`;
}

/** Any accepted form → the internal URL form (see `toUrl`). */
export function normalizeConnection(text: string, where?: string): string {
  return toUrl(parseConnection(text, where));
}

export function withDatabase(url: string, database: string): string {
  return toUrl({ ...parseConnection(url), database });
}

export function databaseOf(url: string): string {
  return parseConnection(url).database;
}

export function userOf(url: string): string {
  return parseConnection(url).user;
}

/** host:port of a connection, the identity of a server (a socket folder for a local one). */
export function serverOf(url: string): string {
  const c = parseConnection(url);
  return `${c.host || 'localhost'}:${c.port || '5432'}`;
}

/** Same connection with a different user and password (for connecting as a service role). */
export function withCredentials(url: string, user: string, password: string | null): string {
  const c = parseConnection(url);
  return toUrl({ ...c, user, password, params: withoutKeys(c.params, [PASSWORD_COMMAND_KEY]) });
}

/** `params` without `keys`. */
export function withoutKeys(params: Record<string, string>, keys: readonly string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(params).filter(([k]) => !keys.includes(k)));
}

/** The password of a connection string in any form, or null (also null when it does not parse). */
export function passwordOf(text: string): string | null {
  try {
    return parseConnection(text).password;
  } catch {
    return null;
  }
}

/**
 * The only way a connection string reaches output: the password becomes `***`
 * (SPEC §6). Text that does not parse is masked structurally.
 */
export function redact(text: string): string {
  if (!URL_SCHEME.test(text.trim()) && /^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    // Another kind of URL (a health check's): only its userinfo password is secret.
    try {
      const u = new URL(text);
      if (u.password) u.password = '***';
      return u.toString();
    } catch {
      return text.replace(/(:\/\/[^:/@\s]*:)[^\s/]*@/g, '$1***@');
    }
  }
  try {
    const c = parseConnection(text);
    // A password command is shown as that: the command is not secret, its output is.
    const command = PASSWORD_COMMAND_KEY in c.params;
    return toUrl({
      ...c,
      password: c.password === null ? (command ? '***' : null) : '***',
      params: withoutKeys(c.params, [PASSWORD_COMMAND_KEY]),
    });
  } catch {
    return text
      .replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)[^\s/]*@/gi, '$1***@')
      .replace(/(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, '$1***');
  }
}
