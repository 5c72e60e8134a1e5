import { describe, expect, it } from 'vitest';
import { PipeWaits } from '../../../src/pg/copy-relay.js';

/** A clock the test moves by hand. */
function clock() {
  let t = 1000;
  return { now: () => t, at: (ms: number) => (t = 1000 + ms) };
}

describe('PipeWaits', () => {
  it('counts a moment both ends wait once, as the target\'s: the two sums never exceed the time that passed', () => {
    const c = clock();
    const w = new PipeWaits(c.now);
    c.at(10);
    w.waitingOnSource(true); // 10: the source has nothing
    c.at(40);
    w.waitingOnTarget(true); // 40: the target's socket fills too
    c.at(100);
    w.waitingOnSource(false); // 100: the source answers, the target still full
    c.at(130);
    w.waitingOnTarget(false); // 130: drained
    c.at(150);
    expect([w.sourceMs, w.targetMs]).toEqual([30, 90]);
    expect(w.sourceMs + w.targetMs).toBeLessThanOrEqual(150);
  });

  it('counts a wait still going on up to now, and nothing once both ends stopped waiting', () => {
    const c = clock();
    const w = new PipeWaits(c.now);
    w.waitingOnSource(true);
    c.at(25);
    expect(w.sourceMs).toBe(25);
    c.at(60);
    w.waitingOnSource(false);
    w.waitingOnTarget(true);
    c.at(70);
    expect([w.sourceMs, w.targetMs]).toEqual([60, 10]);
    w.waitingOnTarget(false);
    c.at(500);
    expect([w.sourceMs, w.targetMs]).toEqual([60, 10]);
  });
});
