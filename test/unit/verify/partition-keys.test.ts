import { describe, expect, it } from 'vitest';
import { constraint, table } from '../catalog/model-builders.js';
import { compareTables } from '../../../src/verify/schema-diff.js';
import type { Constraint } from '../../../src/catalog/model.js';

const fk = (name: string, ref: string, over: Partial<Constraint> = {}): Constraint =>
  constraint(name, 'f', `FOREIGN KEY ("build_id") REFERENCES ${ref}("id")`, {
    columns: ['build_id'],
    references: { table: { schema: ref.split('.')[0]!.replaceAll('"', ''), name: ref.split('.')[1]!.replaceAll('"', '') }, columns: ['id'] },
    ...over,
  });

const base = { droppedConstraints: [], extraColumns: [], ignoredTriggers: [] };

describe('the foreign keys PostgreSQL adds for each partition', () => {
  it('compares them by definition: generated names may differ between the two sides', () => {
    const source = table('public', 'stats', { constraints: [fk('stats_fk', '"public"."builds"'), fk('stats_build_id_fkey1', '"dyn"."b1"', { inherited: true })] });
    const target = table('public', 'stats', { constraints: [fk('stats_fk', '"public"."builds"'), fk('stats_build_id_fkey_1', '"dyn"."b1"', { inherited: true })] });
    expect(compareTables(source, target, base)).toEqual([]);
    const missing = table('public', 'stats', { constraints: [fk('stats_fk', '"public"."builds"')] });
    expect(compareTables(source, missing, base)).toEqual(['partition foreign key FOREIGN KEY ("build_id") REFERENCES "dyn"."b1"("id") missing in target']);
  });

  it('leaves out the copies of a dropped key, to the referenced table or any of its partitions', () => {
    const source = table('public', 'stats', {
      constraints: [fk('stats_fk', '"public"."builds"'), fk('stats_build_id_fkey', '"dyn"."b1"', { inherited: true }), fk('stats_build_id_fkey1', '"public"."b2"', { inherited: true })],
    });
    const target = table('public', 'stats', { constraints: [] });
    const expectDropped = { ...base, droppedConstraints: ['stats_fk'], droppedKeyFamilies: [{ columns: ['build_id'], references: ['public.builds', 'dyn.b1', 'public.b2'] }] };
    expect(compareTables(source, target, expectDropped)).toEqual([]);
    expect(compareTables(source, target, { ...base, droppedConstraints: ['stats_fk'] })).toHaveLength(2);
  });
});
