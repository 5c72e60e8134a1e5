import { PASSWORD_COMMAND_KEY, normalizeConnection, parseConnection, toUrl } from '../conn/connection.js';
import { expand } from './expand.js';
import { SSL_MODES, isSslMode, tlsSettings } from '../conn/tls.js';
import { closest } from './closest.js';
import type { ConnectionSettings, Manifest } from './model.js';
import type { Section } from './section.js';

/** The keys written beside `url` in `source`, `control` and the object form of `servers.<name>`. */
export const CONNECTION_KEYS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'passwordCommand'] as const;

const EXAMPLES: Record<(typeof CONNECTION_KEYS)[number], string> = {
  sslmode: 'sslmode: verify-full',
  sslrootcert: 'sslrootcert: /etc/ssl/certs/rds-global-bundle.pem',
  sslcert: 'sslcert: /etc/cloudphone-split/client.crt',
  sslkey: 'sslkey: /etc/cloudphone-split/client.key',
  passwordCommand: 'passwordCommand: aws rds generate-db-auth-token --hostname db.example --port 5432 --username split --region eu-west-1',
};

/**
 * The connection settings written beside `url` in `sec`; undefined when none is
 * written (so that a manifest without them reads exactly as before).
 */
export function readConnectionSettings(sec: Section): ConnectionSettings | undefined {
  const out: ConnectionSettings = {};
  for (const key of CONNECTION_KEYS) {
    const v = sec.optional(key, EXAMPLES[key]);
    if (typeof v !== 'string') continue;
    if (key === 'sslmode' && !isSslMode(v)) {
      const near = closest(v, SSL_MODES, 4);
      sec.problems.add(sec.at(key), `sslmode ${JSON.stringify(v)} is not one libpq knows`, near ? `write sslmode: ${near}` : `write one of ${SSL_MODES.join(', ')}`);
      continue;
    }
    out[key] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * An expanded connection string with the manifest's settings written in: sslmode and
 * the certificate paths as libpq keywords (they win over the same keywords in the
 * URL), the password command as the tool's own keyword (see PASSWORD_COMMAND_KEY).
 * `expandText` expands `${VAR}` in a certificate path.
 */
export function applyConnectionSettings(url: string, settings: ConnectionSettings | undefined, expandText: (v: string, key: string) => string): string {
  if (!settings) return url;
  const c = parseConnection(url);
  const params = { ...c.params };
  if (settings.sslmode) params.sslmode = settings.sslmode;
  for (const key of ['sslrootcert', 'sslcert', 'sslkey'] as const) {
    const v = settings[key];
    if (v) params[key] = expandText(v, key);
  }
  if (settings.passwordCommand) params[PASSWORD_COMMAND_KEY] = settings.passwordCommand;
  return toUrl({ ...c, params });
}

/** The settings of the connection whose URL is at `path` (`source.url`, `control.url`, `servers.<name>`). */
export function settingsAt(m: Manifest, path: string): { settings: ConnectionSettings | undefined; base: string } {
  if (path === 'source.url') return { settings: m.source.settings, base: 'source' };
  if (path === 'control.url') return { settings: m.control?.settings, base: 'control' };
  const name = path.slice('servers.'.length);
  return { settings: m.serverSettings?.[name], base: path };
}

/**
 * The connection at `path` in the manifest (see settingsAt), expanded and in the
 * tool's URL form, with its settings written in. BadInputError (exit 2) naming the
 * key path when a variable is unset or the string does not parse; never quoting it.
 */
export function manifestConnection(m: Manifest, path: string, template: string, env: NodeJS.ProcessEnv, file: string): string {
  const url = normalizeConnection(expand(template, env, path), `${file}: ${path}`);
  const { settings, base } = settingsAt(m, path);
  const out = applyConnectionSettings(url, settings, (v, key) => expand(v, env, `${base}.${key}`));
  // A wrong sslmode written in the URL itself is bad input now, named by its key path.
  tlsSettings(parseConnection(out), `${file}: ${path}`);
  return out;
}

/** True for the key paths a connection is made from: its URL and the settings beside it. */
export function isConnectionPath(path: string): boolean {
  return /^(source|control)\.(url|ssl)/.test(path) || path.startsWith('servers.');
}
