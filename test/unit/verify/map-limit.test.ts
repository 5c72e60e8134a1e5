import { describe, expect, it } from 'vitest';
import { errorText, mapLimit } from '../../../src/verify/check.js';

describe('mapLimit', () => {
  it('keeps order and never runs more than the limit at once', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, n * 3));
      running--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(peak).toBe(2);
  });
  it('handles no items', async () => {
    expect(await mapLimit([], 4, async () => 1)).toEqual([]);
  });
  it('names the SQLSTATE of a server error', () => {
    expect(errorText(Object.assign(new Error('permission denied'), { code: '42501' }))).toBe('permission denied (SQLSTATE 42501)');
    expect(errorText(new Error('boom'))).toBe('boom');
    // Node's socket codes are no SQLSTATE: not called one, and not repeated when the message holds them.
    expect(errorText(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe('connect ECONNREFUSED 127.0.0.1:5432');
    expect(errorText(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe('socket hang up (ECONNRESET)');
  });
});
