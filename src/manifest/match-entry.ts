import type { QualifiedName } from '../catalog/model.js';
import { tableKey } from '../catalog/model.js';
import type { CatalogIndex } from './catalog-index.js';
import { closest } from './closest.js';
import { compileNamePattern, matchesName, type NamePattern } from './glob.js';
import { manifestName, manifestPart } from './names.js';

/** What a table entry of the manifest matched: table keys (never partitions) and, where allowed, view keys. */
export interface EntryMatch {
  tables: string[];
  views: string[];
  isGlob: boolean;
}

/** Why an entry matched nothing usable. `nothing` is true when it simply matched no object. */
export interface EntryProblem {
  message: string;
  fix: string;
  nothing: boolean;
  /** Table keys the fix proposes (a partition's parent, the closest name). */
  suggested: string[];
  /** The entry names a table an earlier split moved (moved-filter.ts). */
  moved?: boolean;
}

function suggestion(p: NamePattern, index: CatalogIndex, candidates: QualifiedName[]): { fix: string; suggested: string[] } {
  const qualified = p.schema !== null;
  const word = (qualified ? `${p.schema!.text}.${p.name.text}` : p.name.text).replace(/[*?[\]{}()!+@]/g, '');
  const names = candidates.map((t) => (qualified ? `${t.schema}.${t.name}` : t.name));
  const near = closest(word, names);
  if (near === null) {
    return { fix: 'check the name: names match exactly as the source spells them, case included', suggested: [] };
  }
  const t = candidates[names.indexOf(near)]!;
  // Written with its schema (`person.persn`), the name is proposed with its schema too.
  return { fix: `did you mean ${qualified ? manifestName(t, true) : index.display(t)}?`, suggested: [tableKey(t)] };
}

function describe(p: NamePattern): string {
  return JSON.stringify(p.entry);
}

/**
 * Resolves one manifest entry (`users`, `app.users`, `"user_*"`...) against the
 * catalog. Unqualified entries look in every schema of source.schemas; an exact
 * name found in several of them is ambiguous. A partition named directly, or a
 * view where only tables are allowed, is a problem with a fix.
 */
export function matchEntry(entry: string, index: CatalogIndex, allowViews: boolean): EntryMatch | EntryProblem {
  const p = compileNamePattern(entry);
  if ('error' in p) {
    const message = `${JSON.stringify(entry)}: ${p.error}`;
    return { message, fix: 'write name, schema.name or a glob', nothing: false, suggested: [] };
  }
  const hit = (t: QualifiedName): boolean => matchesName(p, t, index.schemas);
  const tables = index.listable.filter(hit);
  const views = index.views.filter(hit);

  if (!p.isGlob && tables.length > 1) {
    return {
      message: `${describe(p)} exists in several schemas: ${tables.map((t) => t.schema).join(', ')}`,
      fix: `write it schema-qualified: ${tables.map((t) => `${t.schema}.${p.name.text}`).join(' or ')}`,
      nothing: false,
      suggested: [],
    };
  }
  if (!p.isGlob && tables.length === 0 && views.length > 0 && !allowViews) {
    const message = `${describe(p)} is a view; views move with the tables they read`;
    return { message, fix: 'remove it from this list', nothing: false, suggested: [] };
  }
  if (tables.length > 0 || (allowViews && views.length > 0)) {
    return { tables: tables.map(tableKey), views: allowViews ? views.map(tableKey) : [], isGlob: p.isGlob };
  }
  const partitions = index.partitions.filter(hit);
  if (partitions.length > 0) {
    const parents = [...new Set(partitions.map((t) => index.rootOf(tableKey(t))))];
    const shown = parents.map((k) => index.display(index.byKey.get(k)!));
    return {
      message:
        `${describe(p)} ${p.isGlob ? 'matches only partitions' : 'is a partition'} of ${shown.join(', ')}; ` +
        'a partitioned table moves with all its partitions',
      fix: `write ${shown.join(', ')} instead`,
      nothing: false,
      suggested: parents,
    };
  }
  if (p.schema && !p.schema.glob && !index.schemas.includes(p.schema.text)) {
    return {
      message: `schema ${JSON.stringify(p.schema.text)} is not one of source.schemas (${index.schemas.join(', ')})`,
      fix: `add ${p.schema.text} to source.schemas, or write the name without the schema`,
      nothing: true,
      suggested: [],
    };
  }
  const candidates: QualifiedName[] = allowViews ? [...index.listable, ...index.views] : index.listable;
  const foreign = p.isGlob ? undefined : (index.foreign ?? []).find((f) => f.name === p.name.text && (!p.schema || p.schema.text === f.schema));
  if (foreign) {
    return {
      message: `${describe(p)} is a foreign table (its rows live on server ${foreign.server}): a split has nothing of it to copy`,
      fix: 'leave it out of the manifest: it stays in the source; a service that reads it needs it made in its new database (CREATE SERVER, USER MAPPING, FOREIGN TABLE) by hand',
      nothing: true,
      suggested: [],
    };
  }
  return {
    message: p.isGlob ? `${describe(p)} matches no table` : `no table named ${describe(p)}`,
    ...suggestion(p, index, candidates),
    nothing: true,
  };
}

/** The same, for a name given as parts (denormalize `from`): every part literal. */
export function matchParts(parts: string[], index: CatalogIndex): EntryMatch | EntryProblem {
  return matchEntry(parts.map(manifestPart).join('.'), index, false);
}
