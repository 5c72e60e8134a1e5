import { describe, expect, it } from 'vitest';
import { workerProblems } from '../../../src/online/online-preflight.js';

/**
 * Cal.com's seven services on one target: preflight proposed max_logical_replication_workers
 * = 21 beside max_worker_processes = 16, which cannot run 21 workers.
 */
describe('the replication worker settings preflight asks for', () => {
  it('fit together: max_worker_processes holds the workers max_logical_replication_workers is raised to', () => {
    const problems = workerProblems('target', { workers: 4, processes: 8, syncWorkers: 2, usedSubscriptions: 0 }, 7);
    expect(problems[0]).toContain('ALTER SYSTEM SET max_logical_replication_workers = 21');
    expect(problems[1]).toBe(
      'server target: max_worker_processes = 8 leaves no room for 21 replication workers and their launcher: ALTER SYSTEM SET max_worker_processes = 29, then restart the server (the setting takes effect only at start)',
    );
  });

  it('ask nothing when there is room, and only the processes when the workers are enough', () => {
    expect(workerProblems('target', { workers: 30, processes: 40, syncWorkers: 2, usedSubscriptions: 0 }, 7)).toEqual([]);
    const only = workerProblems('target', { workers: 10, processes: 8, syncWorkers: 2, usedSubscriptions: 0 }, 7);
    expect(only).toHaveLength(1);
    expect(only[0]).toContain('leaves no room for 8 replication workers');
  });
});
