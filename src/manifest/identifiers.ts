/** The rule for database and role names, as stated in problems. */
export const IDENTIFIER_RULE =
  '1-63 bytes of lowercase letters, digits, _ and $, not starting with a digit or $ ([a-z_][a-z0-9_$]*), ' +
  'so it never needs quoting';

const IDENTIFIER = /^[a-z_][a-z0-9_$]*$/;
const MAX_BYTES = 63;

/** Why `value` is not an acceptable database or role name, or null when it is. */
export function identifierProblem(value: string, what: string): string | null {
  if (value.includes('${')) return `variables are not expanded in ${what}s: ${JSON.stringify(value)}`;
  if (Buffer.byteLength(value, 'utf8') > MAX_BYTES) return `${what} ${JSON.stringify(value)} is longer than ${MAX_BYTES} bytes`;
  if (!IDENTIFIER.test(value)) return `${what} ${JSON.stringify(value)} is not a plain identifier`;
  return null;
}

/** A close valid identifier: lowercased, other characters turned into `_`, cut to 63 bytes. */
export function suggestIdentifier(value: string): string {
  let s = value
    .replace(/\$\{[^}]*\}?/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9_$]/g, '_');
  if (!/^[a-z_]/.test(s)) s = `_${s}`;
  return s.slice(0, MAX_BYTES);
}

/** Names PostgreSQL reserves or that would clash with the cluster's own. */
export function reservedDatabase(name: string): boolean {
  return name === 'postgres' || name === 'template0' || name === 'template1';
}

export function reservedRole(name: string): boolean {
  return ['public', 'none', 'current_role', 'current_user', 'session_user'].includes(name) || name.startsWith('pg_');
}

const SPLIT_NAME = /^[a-z0-9_-]+$/;

/** Why `value` is not a valid split `name` ([a-z0-9_-]+), or null. */
export function splitNameProblem(value: string): string | null {
  return SPLIT_NAME.test(value) ? null : `name ${JSON.stringify(value)} may only hold a-z, 0-9, _ and -`;
}

export function suggestSplitName(value: string): string {
  const s = value.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '');
  return s === '' ? 'cloudphone' : s;
}
