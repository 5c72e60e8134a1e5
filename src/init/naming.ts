import { suggestIdentifier, suggestSplitName } from '../manifest/identifiers.js';
import { DEFAULT_CONTROL_DATABASE } from '../manifest/validate.js';
import type { DraftGroup, NameOf } from './draft-group.js';
import { sharedPrefix } from './draft-group.js';
import { domainOf, nameWords, singular, tableFamily } from './table-family.js';

const MAX_KEY = 24;

/** A group key from free text: ASCII lowercase letters, digits and `_`, starting with a letter; null when nothing is left. */
export function cleanKey(text: string | null): string | null {
  if (text === null) return null;
  const s = text
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^[^a-z]+|_+$/g, '')
    .replace(/_+/g, '_')
    .slice(0, MAX_KEY)
    .replace(/_+$/, '');
  return s === '' ? null : s;
}

/**
 * One key per group, unique: the domain of the center (`billing` for orders),
 * the family of the center (`order`), the center's whole name (`user_group`),
 * then a number. Groups centered on a table named just its family (`users`,
 * `devices`) choose first, so `users` gets `user` before `user_groups` does.
 * A prefix group goes by its prefix; the catch-all group is `other`.
 */
export function groupKeys(groups: readonly DraftGroup[], nameOf: NameOf): string[] {
  const choices = groups.map((g) => {
    const centerName = g.center === null ? null : nameOf(g.center);
    const whole = centerName === null ? null : nameWords(centerName).map(singular).join('_');
    const family = g.reason === 'prefix' ? sharedPrefix(g.tables, g.center, nameOf) : centerName === null ? null : tableFamily(centerName);
    const options = g.reason === 'rest' ? ['other'] : [domainOf(family), family, whole];
    return { options: options.map(cleanKey).filter((k): k is string => k !== null), plain: whole !== null && whole === family };
  });
  const taken = new Set<string>();
  const keys: string[] = [];
  const choose = (i: number): void => {
    const usable = choices[i]!.options;
    const base = usable[0] ?? 'group';
    let key = usable.find((k) => !taken.has(k)) ?? base;
    for (let n = 2; taken.has(key); n++) key = `${base}${n}`;
    taken.add(key);
    keys[i] = key;
  };
  for (const pass of [true, false]) {
    choices.forEach((c, i) => {
      if (c.plain === pass) choose(i);
    });
  }
  return keys;
}

/** `user` → `user-service`. */
export function serviceName(key: string): string {
  return `${key.replaceAll('_', '-')}-service`;
}

/**
 * Database names `<source database>_<key>`, valid identifiers of at most 63
 * bytes, unique, and never the source database or the journal's default database.
 */
export function databaseNames(sourceDatabase: string, keys: readonly string[]): string[] {
  const base = suggestIdentifier(sourceDatabase);
  const taken = new Set([sourceDatabase, DEFAULT_CONTROL_DATABASE, 'postgres', 'template0', 'template1']);
  return keys.map((key) => {
    const suffix = `_${key}`;
    let name = `${base.slice(0, 63 - suffix.length)}${suffix}`;
    for (let n = 2; taken.has(name); n++) name = `${base.slice(0, 63 - suffix.length - String(n).length)}${suffix}${n}`;
    taken.add(name);
    return name;
  });
}

/** The environment variable the manifest reads the source URL from: `CLOUDPHONE_CORE_URL` for cloudphone_core. */
export function sourceVariable(sourceDatabase: string): string {
  const stem = sourceDatabase
    .normalize('NFKD')
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (stem === '') return 'SOURCE_DATABASE_URL';
  return /^[0-9]/.test(stem) ? `DB_${stem}_URL` : `${stem}_URL`;
}

/** The split's `name` ([a-z0-9_-]+): the source database's name, cleaned. */
export function splitName(sourceDatabase: string): string {
  return suggestSplitName(sourceDatabase);
}

/** The variable a commented-out role password would read: `USER_DB_PASSWORD` for the key `user`. */
export function passwordVariable(key: string): string {
  return `${key.toUpperCase()}_DB_PASSWORD`;
}
