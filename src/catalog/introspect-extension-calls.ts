import type pg from 'pg';
import { candidateKeys, codeOnly, nameParts, stringLiterals } from './body-refs.js';
import { rows } from './introspect-util.js';

/** A function that belongs to an extension (`hmac` of pgcrypto), by schema and name. */
export interface ExtensionFunction {
  extension: number;
  schema: string;
  name: string;
}

/** Every function of every installed extension (pg_depend deptype 'e'), one row per schema and name. */
export async function readExtensionFunctions(client: pg.ClientBase): Promise<ExtensionFunction[]> {
  return rows<ExtensionFunction>(
    client,
    `SELECT DISTINCT d.refobjid AS extension, n.nspname::text AS schema, p.proname::text AS name
       FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE d.deptype = 'e' AND d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_extension'::regclass
      ORDER BY 2, 3`,
  );
}

/**
 * The extensions whose text search dictionaries or configurations a body names in a
 * literal (MusicBrainz's `immutable_unaccent(regdictionary 'public.unaccent', $1)`, a C
 * function of its own over unaccent's library): pg_depend records no such use either.
 */
export function extensionSearchObjects(body: string, searchPath: string[], objects: readonly ExtensionFunction[]): number[] {
  if (objects.length === 0) return [];
  const byName = new Map(objects.map((o) => [`${o.schema}.${o.name}`, o.extension]));
  const out = new Set<number>();
  for (const lit of stringLiterals(body)) {
    const parts = nameParts(lit);
    const key = parts ? candidateKeys(parts, searchPath).find((k) => byName.has(k)) : undefined;
    if (key) out.add(byName.get(key)!);
  }
  return [...out].sort((a, b) => a - b);
}

const IDENT = `(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const CALL = new RegExp(`(${IDENT}(?:\\s*\\.\\s*${IDENT})?)\\s*\\(`, 'g');

/**
 * The extensions whose functions a body calls (`hmac(...)`, `public.crypt(...)`), names
 * resolved through `searchPath` as the server would at run time. pg_depend records no
 * such use: without it, a function that needs pgcrypto would be created in a database
 * without pgcrypto and fail when first called. Literals and comments are skipped.
 */
export function extensionCalls(body: string, searchPath: string[], functions: readonly ExtensionFunction[]): number[] {
  const byName = new Map<string, number>();
  for (const f of functions) byName.set(`${f.schema}.${f.name}`, f.extension);
  return [...new Set(calledNames(body, searchPath, byName))].sort((a, b) => a - b);
}

/**
 * The source's own functions a body calls (`norm_code(NEW.code)` in a trigger function),
 * as keys of `byName` (`schema.name`, every overload: a call's argument types are not
 * known from the text). pg_depend records no such call, so without this the called
 * function would stay in the source and the caller fail in its new database.
 */
export function routineCalls(body: string, searchPath: string[], byName: ReadonlyMap<string, readonly string[]>): string[] {
  return [...new Set(calledNames(body, searchPath, byName).flat())].sort();
}

/**
 * Functions outside the given ones that their bodies call by a name the search path
 * reaches (`auth.jwt()` from a function of `public`), not extension members, not
 * PostgreSQL's own: pg_depend records no such call, so the walk of dependencies does
 * not find them. The caller reads them and looks again at their bodies.
 */
export async function routinesCalledOutside(
  client: pg.ClientBase,
  known: ReadonlyMap<number, { def: { schema: string }; src: string | null; path: string[] | null }>,
  searchPathOf: (ownSchema: string, configured: string[] | null) => string[],
): Promise<number[]> {
  const names = new Map<string, [string, string]>();
  for (const { def, src, path } of known.values()) {
    if (src === null) continue;
    for (const [schema, name] of callCandidates(src, searchPathOf(def.schema, path))) names.set(`${schema}.${name}`, [schema, name]);
  }
  if (names.size === 0) return [];
  const pairs = [...names.values()];
  const found = await rows<{ oid: number }>(
    client,
    `SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE (n.nspname::text, p.proname::text) IN (SELECT * FROM unnest($1::text[], $2::text[]))
        AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_proc'::regclass AND x.objid = p.oid AND x.deptype IN ('e', 'i'))
      ORDER BY 1`,
    [pairs.map((x) => x[0]), pairs.map((x) => x[1])],
  );
  return found.map((r) => r.oid).filter((oid) => !known.has(oid));
}

/** Every `[schema, name]` a call in `body` may resolve to: the qualified name, else the name in each schema of `searchPath`. */
function callCandidates(body: string, searchPath: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const m of codeOnly(body).matchAll(CALL)) {
    const parts = nameParts(m[1]!);
    if (!parts) continue;
    if (parts.length === 2) out.push([parts[0]!, parts[1]!]);
    else for (const s of searchPath) out.push([s, parts[0]!]);
  }
  return out;
}

/** What each name called in `body` (literals and comments skipped) resolves to in `byName`, through `searchPath` when unqualified, first match winning. */
function calledNames<T>(body: string, searchPath: string[], byName: ReadonlyMap<string, T>): T[] {
  const found: T[] = [];
  for (const m of codeOnly(body).matchAll(CALL)) {
    const parts = nameParts(m[1]!);
    if (!parts) continue;
    for (const k of candidateKeys(parts, searchPath)) {
      const hit = byName.get(k);
      if (hit !== undefined) {
        found.push(hit);
        break;
      }
    }
  }
  return found;
}
