import type { Catalog, Extension, FunctionDef, Sequence, Table, TypeDef, View } from './model.js';
import { functionKey, tableKey } from './model.js';

/** What a set of tables needs besides themselves, each list in creation order. */
export interface Closure {
  /** Every type before the types that use it. */
  types: TypeDef[];
  /** Every function before the functions that use it. */
  functions: FunctionDef[];
  /** By key; identity sequences included (the table creates them). */
  sequences: Sequence[];
  /** By name. */
  extensions: Extension[];
}

/** A type or a function, in the order they can be created in (see `creationOrder`). */
export type Routine = { kind: 'type'; def: TypeDef } | { kind: 'function'; def: FunctionDef };

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Everything the given tables, views, functions (`schema.name(args)`), types and
 * sequences need, transitively: types needing types and functions, functions
 * needing types, and the sequences a function's body names and the functions it calls
 * (they travel with it).
 * Named functions, types and sequences are part of the result themselves. Keys
 * missing from the catalog are ignored (a snapshot may have been filtered).
 * Deterministic.
 */
export function dependencyClosure(catalog: Catalog, keys: string[], extensionNames: readonly string[] = []): Closure {
  const { types, functions, tables, views, sequences: sequenceByKey, extensions } = catalogIndex(catalog);
  const sequenceKeys = sequenceByKey;
  const wantTypes = new Set<string>();
  const wantFunctions = new Set<string>();
  const wantSequences = new Set<string>();
  const wantExtensions = new Set<string>(extensionNames);
  const queue: string[] = [];
  const need = (key: string) => {
    if (types.has(key) && !wantTypes.has(key)) {
      wantTypes.add(key);
      queue.push(key);
    } else if (functions.has(key) && !wantFunctions.has(key)) {
      wantFunctions.add(key);
      queue.push(key);
    }
  };
  for (const key of keys) {
    need(key);
    if (sequenceKeys.has(key) && !tables.has(key)) wantSequences.add(key);
    const t = tables.get(key);
    const uses = t ? t.dependsOn : views.get(key)?.uses;
    if (!uses) continue;
    uses.types.forEach(need);
    uses.functions.forEach(need);
    uses.extensions.forEach((e) => wantExtensions.add(e));
    if (t) t.dependsOn.sequences.forEach((s) => wantSequences.add(s));
  }
  while (queue.length > 0) {
    const key = queue.pop()!;
    const def = types.get(key) ?? functions.get(key);
    if (!def) continue;
    def.dependsOn.forEach(need);
    (def.extensions ?? []).forEach((e) => wantExtensions.add(e));
    if ('body' in def) def.body?.sequences.forEach((s) => wantSequences.add(s));
    if ('body' in def) def.body?.extensions?.forEach((e) => wantExtensions.add(e));
    // Functions its body calls: created with check_function_bodies off, so their order does not matter.
    if ('body' in def) def.body?.calls?.forEach(need);
    if ('body' in def) def.body?.types?.forEach(need);
  }
  const order = creationOrder(
    [...wantTypes].map((k) => types.get(k)!),
    [...wantFunctions].map((k) => functions.get(k)!),
  );
  return {
    types: order.flatMap((r) => (r.kind === 'type' ? [r.def] : [])),
    functions: order.flatMap((r) => (r.kind === 'function' ? [r.def] : [])),
    sequences: [...wantSequences].sort(cmp).flatMap((k) => sequenceByKey.get(k) ?? []),
    extensions: [...wantExtensions].sort(cmp).flatMap((name) => extensions.get(name) ?? []),
  };
}

/** A catalog's objects by key, kept per catalog (built again if one of its lists was replaced or grew). */
interface CatalogIndex {
  lists: unknown[];
  sizes: number[];
  types: Map<string, TypeDef>;
  functions: Map<string, FunctionDef>;
  tables: Map<string, Table>;
  views: Map<string, View>;
  sequences: Map<string, Sequence>;
  extensions: Map<string, Extension>;
}

const indexes = new WeakMap<Catalog, CatalogIndex>();

/**
 * The catalog's objects by key, built once per catalog rather than once per call:
 * planning asks for the closure of every table (fingerprints), which would otherwise
 * cost the whole catalog each time. The first object of a key wins, as `find` would.
 */
export function catalogIndex(catalog: Catalog): CatalogIndex {
  const lists = [catalog.types, catalog.functions, catalog.tables, catalog.views, catalog.sequences, catalog.extensions];
  const known = indexes.get(catalog);
  if (known && known.lists.every((l, i) => l === lists[i] && (l as unknown[]).length === known.sizes[i])) return known;
  const first = <T>(items: readonly T[], key: (x: T) => string): Map<string, T> => {
    const m = new Map<string, T>();
    for (const x of items) if (!m.has(key(x))) m.set(key(x), x);
    return m;
  };
  const built: CatalogIndex = {
    lists,
    sizes: lists.map((l) => l.length),
    types: first(catalog.types, tableKey),
    functions: first(catalog.functions, functionKey),
    tables: first(catalog.tables, tableKey),
    views: first(catalog.views, tableKey),
    sequences: first(catalog.sequences, tableKey),
    extensions: first(catalog.extensions, (e) => e.name),
  };
  indexes.set(catalog, built);
  return built;
}

/**
 * Types and functions interleaved so that each comes after everything it depends
 * on (a domain whose CHECK calls a function, a function taking an enum...).
 * Depth-first in key order, so the result is deterministic; a cycle (impossible
 * to create anyway) is broken at the point it is found.
 */
export function creationOrder(types: TypeDef[], functions: FunctionDef[]): Routine[] {
  const byKey = new Map<string, Routine>();
  for (const t of types) byKey.set(tableKey(t), { kind: 'type', def: t });
  for (const f of functions) byKey.set(functionKey(f), { kind: 'function', def: f });
  const out: Routine[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (key: string) => {
    const r = byKey.get(key);
    if (!r || state.has(key)) return;
    state.set(key, 'visiting');
    for (const d of [...r.def.dependsOn].sort(cmp)) visit(d);
    state.set(key, 'done');
    out.push(r);
  };
  for (const key of [...byKey.keys()].sort(cmp)) visit(key);
  return out;
}
