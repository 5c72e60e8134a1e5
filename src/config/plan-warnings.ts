import type { ConfigEntry } from '../manifest/model.js';
import { applyReversePatch, reversePatch } from './backup.js';
import { entryLabel, readEntryValue } from './edit.js';
import { POSTGRES_URL, splitPostgresUrl } from './postgres-url.js';

/** A config entry with the file's text before and after it (as planned). */
export interface PlannedEntry {
  service: string;
  /** The role the split creates for the service (services.<name>.role), if any. */
  role?: string | null;
  /** The manifest's name of the server the service's database goes to ("source" for the source's). */
  server?: string;
  entry: ConfigEntry;
  before: string;
  after: string;
}

const VARIABLE = /\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}/;

/**
 * What a reviewer of config edits must know before apply: a `${VAR}` in a value is
 * written as it is (the tool expands variables in connections and passwords, never in
 * config files); an edit that changes a secret (a password key, a URL's password) cannot
 * be undone by rollback, whose journal keeps every original with its secrets masked and
 * takes them back from the lines it replaces.
 */
export function configPlanWarnings(items: readonly PlannedEntry[]): string[] {
  const out: string[] = [];
  for (const { service, entry, before, after, role, server } of items) {
    const where = `${service}: config ${entry.file} ${entryLabel(entry)}`;
    const template = 'replace' in entry ? entry.with : entry.value;
    const variable = VARIABLE.exec(template);
    if (variable) {
      out.push(
        `${where}: ${variable[0]} is written into the file as it is, not expanded (variables are expanded in connection URLs, TLS file paths, role passwords, retention.archive and health URLs only; a service that interpolates its own config reads it); ` +
          'to give the service a password, put it where the service reads secrets from',
      );
    }
    // {url} keeps the URL's user: with a service role, only that role (and superusers) may connect to the new database.
    if (role && !('replace' in entry) && entry.value.includes('{url}')) {
      const users = [...(readEntryValue(after, entry) ?? '').matchAll(POSTGRES_URL)]
        .map((m) => decodeURIComponent((splitPostgresUrl(m[0])?.userinfo ?? '').replace(/@$/, '').split(':')[0] ?? ''))
        .filter((u) => u !== '' && u !== role);
      if (users.length > 0) {
        out.push(
          `${where}: {url} keeps the URL's user ${[...new Set(users)].join(', ')}, but the new database belongs to ${role}, the only role (with superusers) granted CONNECT there: ` +
            `unless ${users.length === 1 ? 'it is' : 'they are'} a superuser, the service cannot connect; put ${role}'s user and password where the service reads its credentials, or leave out services.${service}.role`,
        );
      }
    }
    // On another server, a database name alone points the service at a database its old server does not have.
    if (server !== undefined && server !== 'source' && !('replace' in entry) && entry.value.includes('{database}') && !entry.value.includes('{url}')) {
      out.push(
        `${where}: writes the new database's name only, but ${service}'s database is on server ${server}, not the source's: the host and port the service reads stay the source's, ` +
          "where no such database is; repoint them too (an entry for each, with the server's host and port as its value), or use one {url} entry",
      );
    }
    if (before === after) continue;
    const rebuilt = applyReversePatch(after, reversePatch(before, after));
    if (rebuilt !== before) {
      out.push(
        `${where}: this edit changes a secret (a password-named key or a URL's password), which rollback cannot put back (the journal never holds a secret): ` +
          'keep a copy of the original file, or point the entry at a key without a secret ({url} keeps the URL\'s user and password)',
      );
    }
  }
  return out;
}
