import { describe, expect, it } from 'vitest';
import { renderPreData } from '../../../src/catalog/ddl.js';
import { catalog, column, table } from './model-builders.js';

/** A parent with defaults; one partition created by PARTITION OF (defaults inherited), one attached without any. */
function sample() {
  const parent = table('public', 'builds', {
    kind: 'p',
    partitionKey: 'LIST ("part")',
    columns: [
      column('id', 'bigint', { notNull: true, default: `nextval('"public"."builds_id_seq"'::"regclass")` }),
      column('part', 'bigint', { notNull: true }),
      column('name', 'text', { notNull: true, default: `'build'::"text"` }),
    ],
  });
  const bound = (n: number) => ({ parent: { schema: 'public', name: 'builds' }, bound: `FOR VALUES IN ('${n}')` });
  const withDefaults = table('dyn', 'builds_1', {
    partitionOf: bound(1),
    columns: parent.columns.map((c) => ({ ...c, inherited: true })),
  });
  // Created on its own, then attached: its columns are local, and have no default.
  const attached = table('dyn', 'builds_2', {
    partitionOf: bound(2),
    columns: parent.columns.map((c) => ({ ...c, default: null })),
  });
  const sub = table('dyn', 'builds_3', {
    kind: 'p',
    partitionKey: 'RANGE ("id")',
    partitionOf: bound(3),
    columns: parent.columns.map((c) => ({ ...c, inherited: true, default: c.name === 'name' ? null : c.default })),
  });
  return catalog({ schemas: ['public'], tables: [parent, withDefaults, attached, sub] });
}

describe('a partition without its parent\'s defaults', () => {
  const pre = renderPreData(sample(), ['public.builds', 'dyn.builds_1', 'dyn.builds_2', 'dyn.builds_3']);
  const drops = pre.filter((s) => s.includes('DROP DEFAULT'));

  it('loses the defaults PARTITION OF gives it, right after its creation', () => {
    expect(drops).toEqual([
      'ALTER TABLE ONLY "dyn"."builds_2" ALTER COLUMN "id" DROP DEFAULT',
      'ALTER TABLE ONLY "dyn"."builds_2" ALTER COLUMN "name" DROP DEFAULT',
      'ALTER TABLE "dyn"."builds_3" ALTER COLUMN "name" DROP DEFAULT',
    ]);
    const created = pre.findIndex((s) => s.startsWith('CREATE TABLE "dyn"."builds_2"'));
    expect(pre.indexOf(drops[0]!)).toBeGreaterThan(created);
  });

  it('keeps the inherited ones of a partition that has them', () => {
    expect(pre.join('\n')).not.toMatch(/"builds_1" ALTER COLUMN .* DROP DEFAULT/);
  });
});
