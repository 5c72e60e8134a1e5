import { describe, expect, it } from 'vitest';
import { connectionsNeeded, jobsThatFit } from '../../../src/online/connection-budget.js';

/**
 * Langfuse's five services on one server with max_connections = 100 (97 for clients,
 * 40 held by the services themselves): cutover ran 10 jobs, a pool of 22 per database,
 * and the steps inside the window failed with "sorry, too many clients already".
 */
describe('the connections a cutover may hold', () => {
  it('are a pool per database and a session per running step, the fence and the snapshot', () => {
    expect(connectionsNeeded(10, 6)).toBe(6 * 22 + 12);
    expect(connectionsNeeded(1, 6)).toBe(6 * 4 + 3);
  });

  it('set the jobs to the most that fit every server, the tightest one deciding', () => {
    const rooms = [
      { server: 'core:5432', databases: 6, free: 57 },
      { server: 'other:5432', databases: 1, free: 500 },
    ];
    expect(jobsThatFit(rooms, 10)).toBe(3);
    expect(connectionsNeeded(3, 6)).toBeLessThanOrEqual(57);
    expect(connectionsNeeded(4, 6)).toBeGreaterThan(57);
    // Room enough: what was asked.
    expect(jobsThatFit([{ server: 'core:5432', databases: 6, free: 1000 }], 10)).toBe(10);
    // Not even one: 0, which cutover refuses before the fence.
    expect(jobsThatFit([{ server: 'core:5432', databases: 6, free: 20 }], 10)).toBe(0);
  });
});
