import { describe, expect, it } from 'vitest';
import { canonicalJson, catalogFingerprint, tableFingerprint } from '../../../src/catalog/fingerprint.js';
import type { Catalog } from '../../../src/catalog/model.js';
import { catalog, column, functionDef, sequence, table, typeDef, view } from './model-builders.js';

function sample(): Catalog {
  return catalog({
    tables: [
      table('public', 'a', { dependsOn: { types: ['public.mood'], functions: ['public.f()'], sequences: ['public.s'], extensions: [] } }),
      table('public', 'b'),
    ],
    types: [typeDef('public', 'mood')],
    functions: [functionDef('public', 'f')],
    sequences: [sequence('public', 's')],
    views: [view('public', 'v', { dependsOn: ['public.a'] })],
  });
}

describe('canonicalJson', () => {
  it('sorts keys at every level and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: undefined }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"f":1}]},"b":1}');
  });
});

describe('tableFingerprint', () => {
  it('is a sha256 hex digest, stable for the same catalog', () => {
    const fp = tableFingerprint(sample(), 'public.a');
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    expect(tableFingerprint(sample(), 'public.a')).toBe(fp);
  });

  it('ignores row estimates, sizes and property order', () => {
    const c = sample();
    // Same content, other statistics, properties in reverse order.
    const reversed = (t: object) => Object.fromEntries(Object.entries(t).reverse());
    const moved = { ...c, tables: c.tables.map((t) => reversed({ ...t, bytes: 1, rowsEstimate: 7 }) as typeof t) };
    expect(tableFingerprint(moved, 'public.a')).toBe(tableFingerprint(c, 'public.a'));
  });

  it('changes when the table or anything it depends on changes', () => {
    const base = tableFingerprint(sample(), 'public.a');
    const withColumn = sample();
    withColumn.tables[0]!.columns.push(column('extra', 'text'));
    expect(tableFingerprint(withColumn, 'public.a')).not.toBe(base);
    const newLabel = sample();
    newLabel.types[0]!.ddl = [`CREATE TYPE "public"."mood" AS ENUM ('a', 'b')`];
    expect(tableFingerprint(newLabel, 'public.a')).not.toBe(base);
    const newBody = sample();
    newBody.functions[0]!.ddl += ' ';
    expect(tableFingerprint(newBody, 'public.a')).not.toBe(base);
    const newIncrement = sample();
    newIncrement.sequences[0]!.increment = '2';
    expect(tableFingerprint(newIncrement, 'public.a')).not.toBe(base);
    expect(tableFingerprint(newIncrement, 'public.b')).toBe(tableFingerprint(sample(), 'public.b'));
  });

  it('ignores dependency keys with nothing behind them (objects filtered out of the catalog)', () => {
    const c = sample();
    c.tables[0]!.dependsOn.functions.push('tool.fence()');
    expect(tableFingerprint(c, 'public.a')).toBe(tableFingerprint(sample(), 'public.a'));
  });

  it('fingerprints views too and refuses unknown keys', () => {
    expect(tableFingerprint(sample(), 'public.v')).toMatch(/^[0-9a-f]{64}$/);
    expect(() => tableFingerprint(sample(), 'public.nope')).toThrow(/public\.nope/);
  });
});

describe('catalogFingerprint', () => {
  it('does not depend on the order of the keys, and changes with the set', () => {
    const c = sample();
    expect(catalogFingerprint(c, ['public.b', 'public.a'])).toBe(catalogFingerprint(c, ['public.a', 'public.b', 'public.a']));
    expect(catalogFingerprint(c, ['public.a'])).not.toBe(catalogFingerprint(c, ['public.a', 'public.b']));
  });
});
