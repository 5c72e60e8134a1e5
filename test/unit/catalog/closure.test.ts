import { describe, expect, it } from 'vitest';
import { creationOrder, dependencyClosure } from '../../../src/catalog/closure.js';
import { functionKey, tableKey } from '../../../src/catalog/model.js';
import { catalog, functionDef, sequence, table, typeDef, view } from './model-builders.js';

function sample() {
  return catalog({
    tables: [
      table('app', 'a', { dependsOn: { types: ['app.dom'], functions: [], sequences: ['app.s1'], extensions: ['citext'] } }),
      table('app', 'b', { dependsOn: { types: [], functions: ['app.trg()', 'app.gone()'], sequences: ['app.s2'], extensions: [] } }),
    ],
    types: [
      typeDef('app', 'dom', { kind: 'domain', dependsOn: ['app.check_it("x" "app"."base")'], extensions: ['btree_gist'] }),
      typeDef('app', 'base'),
      typeDef('app', 'unused'),
      typeDef('app', 'wrapper', { kind: 'composite', dependsOn: ['app.base'] }),
    ],
    functions: [
      functionDef('app', 'check_it', { identityArgs: '"x" "app"."base"', dependsOn: ['app.base'] }),
      functionDef('app', 'trg'),
      functionDef('app', 'unused'),
    ],
    sequences: [sequence('app', 's2'), sequence('app', 's1'), sequence('app', 's3')],
    extensions: [
      { name: 'citext', schema: 'public', version: '1.6' },
      { name: 'btree_gist', schema: 'public', version: '1.7' },
      { name: 'hstore', schema: 'public', version: '1.8' },
    ],
    views: [view('app', 'v', { uses: { types: ['app.wrapper'], functions: [], extensions: [] } })],
  });
}

describe('dependencyClosure', () => {
  it('collects what the tables need, transitively, and nothing else', () => {
    const c = dependencyClosure(sample(), ['app.a']);
    expect(c.types.map(tableKey)).toEqual(['app.base', 'app.dom']);
    expect(c.functions.map(functionKey)).toEqual(['app.check_it("x" "app"."base")']);
    expect(c.sequences.map(tableKey)).toEqual(['app.s1']);
    expect(c.extensions.map((e) => e.name)).toEqual(['btree_gist', 'citext']);
  });

  it('unites several tables, sorts sequences, ignores keys missing from the catalog', () => {
    const c = dependencyClosure(sample(), ['app.b', 'app.a', 'app.nope']);
    expect(c.functions.map(functionKey)).toEqual(['app.check_it("x" "app"."base")', 'app.trg()']);
    expect(c.sequences.map(tableKey)).toEqual(['app.s1', 'app.s2']);
  });

  it('follows what a view uses', () => {
    expect(dependencyClosure(sample(), ['app.v']).types.map(tableKey)).toEqual(['app.base', 'app.wrapper']);
  });

  it('is empty for a table that needs nothing', () => {
    const c = dependencyClosure(catalog({ tables: [table('public', 't')] }), ['public.t']);
    expect(c).toEqual({ types: [], functions: [], sequences: [], extensions: [] });
  });
});

describe('creationOrder', () => {
  it('puts every type or function after what it depends on, across kinds', () => {
    const s = sample();
    const order = creationOrder(s.types, s.functions).map((r) => (r.kind === 'type' ? tableKey(r.def) : functionKey(r.def)));
    const pos = (k: string) => order.indexOf(k);
    expect(order).toHaveLength(7);
    expect(pos('app.base')).toBeLessThan(pos('app.check_it("x" "app"."base")'));
    expect(pos('app.check_it("x" "app"."base")')).toBeLessThan(pos('app.dom'));
    expect(pos('app.base')).toBeLessThan(pos('app.wrapper'));
  });

  it('breaks a cycle instead of looping', () => {
    const a = typeDef('x', 'a', { dependsOn: ['x.b'] });
    const b = typeDef('x', 'b', { dependsOn: ['x.a'] });
    expect(creationOrder([a, b], []).map((r) => r.def.name)).toEqual(['b', 'a']);
  });
});
