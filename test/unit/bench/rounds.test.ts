import { describe, expect, it } from 'vitest';
import { roundOrder } from '../../../src/bench/run-bench.js';

describe('bench rounds', () => {
  it('alternates: each round starts one contender later, so that each runs early in some rounds and late in others', () => {
    const keys = ['a', 'b', 'e'];
    expect([0, 1, 2, 3].map((r) => roundOrder(keys, r).join(''))).toEqual(['abe', 'bea', 'eab', 'abe']);
    expect([0, 1].map((r) => roundOrder(['a', 'e'], r).join(''))).toEqual(['ae', 'ea']);
    expect(roundOrder([], 3)).toEqual([]);
  });
});
