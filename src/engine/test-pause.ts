import type { Pools } from '../pg/pools.js';

/**
 * A hook for the crash tests, inert unless CLOUDPHONE_SPLIT_TEST_PAUSE is set:
 * `before:<prefix>` and/or `after:<prefix>` (comma-separated) make a step whose id starts
 * with `<prefix>` wait, right before its handler runs or right after it returned and before
 * the journal records it done, and `within:<prefix>` inside a batch's open transaction on
 * its target, right after that step's statements ran (src/steps/batch.ts), for the advisory lock `(PAUSE_LOCK_SPACE, hashtext(step id))`
 * in the source database. A test that holds that lock sees the wait in pg_stat_activity
 * and knows exactly where the process is when it kills it.
 */
export const TEST_PAUSE_ENV = 'CLOUDPHONE_SPLIT_TEST_PAUSE';
export const PAUSE_LOCK_SPACE = 1_718_907_013;

/**
 * `mid`: inside a step, where its handler calls pauseForTest (catch_up: after its first denormalized fill committed);
 * `within`: inside a batch of steps, before it commits.
 */
export type PauseMoment = 'before' | 'after' | 'mid' | 'within';

export async function pauseForTest(env: NodeJS.ProcessEnv, pools: Pools, moment: PauseMoment, stepId: string): Promise<void> {
  const spec = env[TEST_PAUSE_ENV];
  if (!spec) return;
  const wanted = spec.split(',').some((p) => p.startsWith(`${moment}:`) && stepId.startsWith(p.slice(moment.length + 1)));
  if (!wanted) return;
  const client = await pools.client('source');
  try {
    await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [PAUSE_LOCK_SPACE, stepId]);
    await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [PAUSE_LOCK_SPACE, stepId]);
  } finally {
    await client.end();
  }
}
