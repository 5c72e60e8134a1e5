import { describe, expect, it } from 'vitest';
import { roundOrder } from '../../../src/bench/run-bench.js';
import { goals, type ScaleReport } from '../../../src/bench/report.js';

describe('bench rounds', () => {
  it('alternates: each round starts one contender later, so that each runs early in some rounds and late in others', () => {
    const keys = ['a', 'b', 'e'];
    expect([0, 1, 2, 3].map((r) => roundOrder(keys, r).join(''))).toEqual(['abe', 'bea', 'eab', 'abe']);
    expect([0, 1].map((r) => roundOrder(['a', 'e'], r).join(''))).toEqual(['ae', 'ea']);
    expect(roundOrder([], 3)).toEqual([]);
  });
});

describe('bench goals across scales', () => {
  it('compares apply / raw pipe at the largest scale with the smallest: it must not grow', () => {
    // Only the fields goals() reads: the scale, the ratios and the contenders' runs.
    const scale = (s: number, applyToRaw: number): ScaleReport =>
      ({ scale: s, runs: 2, ratios: { applyToRaw, applyToRestore: null, verifyToApply: 0.1 }, contenders: [] }) as unknown as ScaleReport;
    const growth = goals([scale(0.01, 0.5), scale(0.02, 0.6)]).filter((g) => /must not grow/.test(g.goal));
    expect(growth.map((g) => g.goal)).toEqual(['apply / raw pipe at scale 0.02 over the same at scale 0.01 (must not grow)']);
    expect(growth[0]!.value).toBeCloseTo(1.2, 6);
    expect(growth[0]!.met).toBe(false);
    expect(goals([scale(0.01, 0.5)]).filter((g) => /must not grow/.test(g.goal))).toEqual([]);
  });
});
