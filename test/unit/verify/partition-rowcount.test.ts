import { describe, expect, it } from 'vitest';
import { partitionRowcountCheck, partitionedRoots, rowsThroughParentSql, type PartitionedRoot } from '../../../src/verify/partition-rowcount.js';
import { toyPlan } from '../engine/toy-plan.js';
import type { Plan } from '../../../src/plan/model.js';

const root: PartitionedRoot = {
  service: 'ci',
  table: 'public.builds',
  source: { schema: 'public', name: 'builds' },
  target: { service: 'ci', server: 'source', database: 'ci_db' },
};
const counts = (o: Record<string, number>) => new Map(Object.entries(o));

describe('rows counted through a partitioned table', () => {
  it('passes when every partition holds as many rows on both sides', () => {
    const c = partitionRowcountCheck(root, counts({ 'dyn.b1': 3, 'public.b2': 2 }), counts({ 'dyn.b1': 3, 'public.b2': 2 }));
    expect(c).toMatchObject({ ok: true, source: 5, target: 5, table: 'public.builds' });
  });

  it('names a partition missing in the target, and one whose rows differ', () => {
    const c = partitionRowcountCheck(root, counts({ 'dyn.b1': 3, 'dyn.b3': 4, 'public.b2': 2 }), counts({ 'dyn.b1': 2, 'public.b2': 2 }));
    expect(c.ok).toBe(false);
    expect(c.detail).toBe(
      'rows through partitioned table public.builds differ: source 9, target 4 (5 missing in ci_db); ' +
        'partition dyn.b1: source 3, target 2 rows; partition dyn.b3 (4 rows in the source) is not a partition of public.builds in ci_db: dropped or detached there',
    );
  });

  it('says a partition the plan never listed was made in the source after the plan, not lost in the target', () => {
    const planned: PartitionedRoot = { ...root, planned: new Set(['dyn.b1', 'public.b2']) };
    const c = partitionRowcountCheck(planned, counts({ 'dyn.b1': 3, 'dyn.b9': 4, 'public.b2': 2 }), counts({ 'dyn.b1': 3, 'public.b2': 2 }));
    expect(c.ok).toBe(false);
    expect(c.detail).toContain('partition dyn.b9 (4 rows in the source) was created or attached in the source after the plan was made: it was never copied to ci_db');
  });

  it('names an empty partition the source has and the target not, even with equal totals', () => {
    const c = partitionRowcountCheck(root, counts({ 'dyn.b1': 3, 'dyn.empty': 0 }), counts({ 'dyn.b1': 3 }));
    expect(c.ok).toBe(false);
    expect(c.detail).toContain('same total (3); partition dyn.empty (0 rows in the source)');
  });

  it('reads the tree of the table itself, not the plan', () => {
    expect(rowsThroughParentSql(root.source)).toContain(`pg_partition_tree('"public"."builds"'::regclass)`);
    expect(rowsThroughParentSql(root.source)).toContain('FROM "public"."builds" AS s GROUP BY s.tableoid');
  });

  it('finds the partitioned tables of a plan: the listed tables without a copy of their own', () => {
    const plan: Plan = {
      ...toyPlan('p', []),
      services: [
        { name: 'ci', database: 'ci_db', server: 'source', role: null, tables: [{ name: 'public.builds', rowsEstimate: 0, bytes: 0 }, { name: 'public.plain', rowsEstimate: 0, bytes: 0 }], copies: [], views: [], droppedForeignKeys: [], denormalize: [] },
      ],
    };
    plan.steps = [
      { id: 'copy_data:ci_db:public.plain', kind: 'copy_data', service: 'ci', table: 'public.plain', description: '', sql: [], dependsOn: [], target: { service: 'ci', server: 'source', database: 'ci_db' }, source: { schema: 'public', name: 'plain' }, columns: [], extraColumns: [], copyOut: '', copyIn: '', freeze: true, binary: true, rowsEstimate: 0, bytes: 0, range: null },
      { id: 'copy_data:ci_db:dyn.b1', kind: 'copy_data', service: 'ci', table: 'dyn.b1', description: '', sql: [], dependsOn: [], target: { service: 'ci', server: 'source', database: 'ci_db' }, source: { schema: 'dyn', name: 'b1' }, columns: [], extraColumns: [], copyOut: '', copyIn: '', freeze: true, binary: true, rowsEstimate: 0, bytes: 0, range: null },
    ];
    expect(partitionedRoots(plan)).toEqual([{ ...root, planned: new Set(['public.plain', 'dyn.b1']) }]);
  });
});
