import { ConfigEditError } from './config-edit-error.js';
import { POSTGRES_URL, joinPostgresUrl, splitPostgresUrl } from './postgres-url.js';

/** What a config value template is rendered with. */
export interface TemplateContext {
  /** The service's new database. */
  database: string;
  /** URL of the server the service moves to (only its host and port are used). */
  url?: string;
  /** The new database is on the same server as the source: host and port stay. */
  sameServer: boolean;
}

/**
 * Renders a manifest `value`/`with` template. `{database}` becomes the new database
 * name. `{url}` becomes `currentValue` with every postgres URL in it rewritten: its
 * database replaced and, when the service moves to another server, its host and port
 * taken from `ctx.url`; user, password and query parameters stay exactly as written.
 * Other text is literal.
 */
export function renderValue(template: string, ctx: TemplateContext, currentValue: string | null): string {
  return template.replace(/\{(database|url)\}/g, (_m, name: string) =>
    name === 'database' ? ctx.database : rewriteUrls(currentValue, ctx),
  );
}

function rewriteUrls(currentValue: string | null, ctx: TemplateContext): string {
  if (currentValue === null || !new RegExp(POSTGRES_URL.source, 'i').test(currentValue)) {
    throw new ConfigEditError(
      currentValue === null ? '{url} needs a current value to rewrite, and there is none' : 'the current value holds no postgres:// URL to rewrite',
      'point the entry at the key that holds the connection URL, or use value: "{database}" for a key that holds the database name',
    );
  }
  const hosts = ctx.sameServer ? null : newHosts(ctx.url);
  return currentValue.replace(POSTGRES_URL, (url) => rewriteUrl(url, ctx.database, hosts));
}

function newHosts(url: string | undefined): string {
  const parts = url === undefined ? null : splitPostgresUrl(url);
  if (!parts || parts.hosts === '') {
    throw new ConfigEditError(
      'the service moves to another server, but that server has no postgres:// URL with a host to write',
      'give the server a URL like postgres://user@host:5432/postgres under `servers` in the manifest',
    );
  }
  return parts.hosts;
}

/** One URL with a new database (and, unless null, new hosts); everything else unchanged. */
export function rewriteUrl(url: string, database: string, hosts: string | null): string {
  const parts = splitPostgresUrl(url);
  if (!parts) return url;
  return joinPostgresUrl({
    ...parts,
    hosts: hosts ?? parts.hosts,
    path: `/${encodeURIComponent(database)}`,
  });
}
