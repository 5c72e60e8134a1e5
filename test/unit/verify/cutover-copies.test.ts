import { describe, expect, it } from 'vitest';
import { cutoverCopies, cutoverCopyKey, leavesWrittenSinceCutover } from '../../../src/verify/cutover-copies.js';
import type { Plan, Step } from '../../../src/plan/model.js';
import { toyPlan } from '../engine/toy-plan.js';

const target = { service: 'logs', server: 'source', database: 'logs_db' };
// Only the fields cutoverCopies reads: the copy_back leaves and the verify_rowcounts step of the same database.
const steps = [
  { id: 'verify_rowcounts:logs_db', kind: 'verify_rowcounts', target, tables: ['public.events', 'public.audit_p1'] },
  { id: 'copy_back:logs_db', kind: 'copy_back', target, leaves: [{ table: 'public.audit_p1', columns: ['at'] }, { table: 'public.audit_p2', columns: ['at'] }] },
] as unknown as Step[];
const plan = (mode: Plan['mode']): Plan => ({ ...toyPlan('logs', []), mode, steps });
const done = new Map([
  ['verify_rowcounts:logs_db', { detail: { counts: { 'public.events': 10, 'public.audit_p1': 4 }, sums: { 'public.audit_p1': { rows: 4, sum: '99', method: 'exact', major: 18 } }, sourceSums: { 'public.audit_p1': { rows: 4, sum: '77', method: 'exact', major: 15 } } } }],
]);

describe('tables copied at cutover that reverse replication does not carry', () => {
  it('are the copy_back leaves, with what cutover recorded of them; tables replicated back are not among them', () => {
    const copies = cutoverCopies(plan('online'), done);
    expect([...copies.keys()]).toEqual([cutoverCopyKey(target, 'public.audit_p1'), cutoverCopyKey(target, 'public.audit_p2')]);
    // The target's sum (what the copy wrote) and the fenced source's, each on its own server's major.
    expect(copies.get(cutoverCopyKey(target, 'public.audit_p1'))).toEqual({
      rows: 4,
      sum: { rows: 4, sum: '99', method: 'exact', major: 18 },
      sourceSum: { rows: 4, sum: '77', method: 'exact', major: 15 },
    });
    // Nothing recorded for it (a journal of an older version): no baseline, so nothing is excused.
    expect(copies.get(cutoverCopyKey(target, 'public.audit_p2'))).toEqual({ rows: null, sum: null, sourceSum: null });
  });

  it('are none before cutover recorded its counts, and none in an offline plan', () => {
    expect(cutoverCopies(plan('online'), new Map()).size).toBe(0);
    expect(cutoverCopies(plan('offline'), done).size).toBe(0);
  });

  it("excuse a partition's differing count only while the source still holds the copy's rows", () => {
    const ctx = { cutoverCopies: cutoverCopies(plan('online'), done) };
    const m = (o: Record<string, number>) => new Map(Object.entries(o));
    // audit_p1: copied with 4 rows, the service added 2: excused. audit_p2 has no baseline; p3 was replicated back.
    expect([...leavesWrittenSinceCutover(ctx, target, m({ 'public.audit_p1': 4, 'public.audit_p2': 1, 'public.audit_p3': 5 }), m({ 'public.audit_p1': 6, 'public.audit_p2': 2, 'public.audit_p3': 6 }))]).toEqual([
      'public.audit_p1',
    ]);
    // The source changed since the copy (5 rows, the copy had 4): a difference again.
    expect(leavesWrittenSinceCutover(ctx, target, m({ 'public.audit_p1': 5 }), m({ 'public.audit_p1': 6 })).size).toBe(0);
    // Another database's table of the same name is not excused.
    expect(leavesWrittenSinceCutover(ctx, { server: 'source', database: 'other' }, m({ 'public.audit_p1': 4 }), m({ 'public.audit_p1': 6 })).size).toBe(0);
  });
});
