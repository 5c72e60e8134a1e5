import picomatch from 'picomatch';
import type { QualifiedName } from '../catalog/model.js';
import { parseNameParts, type NamePart } from './names.js';

/** One part of a name pattern: literal text, or a picomatch glob for unquoted parts with glob syntax. */
export interface PartPattern {
  text: string;
  glob: ((candidate: string) => boolean) | null;
}

/**
 * A table entry of the manifest (`users`, `"user_*"`, `app.*`, `"Odd ""name"""`),
 * compiled. Invariants: `schema` is null for an unqualified entry; `isGlob` is
 * true when either part is a glob. Quoted parts never glob.
 */
export interface NamePattern {
  entry: string;
  schema: PartPattern | null;
  name: PartPattern;
  isGlob: boolean;
}

const GLOB_OPTIONS = { dot: true } as const;

function compilePart(part: NamePart): PartPattern {
  if (part.quoted || !picomatch.scan(part.text).isGlob) return { text: part.text, glob: null };
  return { text: part.text, glob: picomatch(part.text, GLOB_OPTIONS) };
}

/** Compiles a manifest table entry; returns a reason when it is not a valid name or glob. */
export function compileNamePattern(entry: string): NamePattern | { error: string } {
  const parts = parseNameParts(entry);
  if ('error' in parts) return parts;
  if (parts.length > 2) {
    return { error: 'too many dots: write name or schema.name (quote a name that contains dots: "a.b")' };
  }
  try {
    const compiled = parts.map(compilePart);
    const schema = compiled.length === 2 ? compiled[0]! : null;
    const name = compiled[compiled.length - 1]!;
    return { entry, schema, name, isGlob: Boolean(schema?.glob) || name.glob !== null };
  } catch (err) {
    return { error: `not a valid glob (${(err as Error).message})` };
  }
}

function matchPart(p: PartPattern, candidate: string): boolean {
  return p.glob ? p.glob(candidate) : p.text === candidate;
}

/**
 * Whether `t` matches. An unqualified pattern matches in any of `schemas`
 * (the manifest's source.schemas); a qualified one only in the schemas it names.
 */
export function matchesName(p: NamePattern, t: QualifiedName, schemas: readonly string[]): boolean {
  if (p.schema === null ? !schemas.includes(t.schema) : !matchPart(p.schema, t.schema)) return false;
  return matchPart(p.name, t.name);
}
