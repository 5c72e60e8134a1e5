import type { FenceTargetStep } from '../plan/model.js';
import type { StepHandler } from './handler.js';

/**
 * `fence_target` (rollback after cutover): the target's moved tables reject every
 * write, naming the source database, so that what the source's subscription has to
 * apply stops growing. One transaction; running it again replaces the same triggers.
 * The fence stays: the target database is kept, not dropped (see rollback).
 */
export const fenceTarget: StepHandler<'fence_target'> = {
  render: (step) => ['BEGIN', ...step.sql, 'COMMIT'],
  async run(ctx, step: FenceTargetStep) {
    const client = await ctx.pools.client(step.target.server, step.target.database);
    try {
      await client.query('BEGIN');
      for (const s of step.sql) await client.query(s);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      await client.end();
    }
    return { detail: { tables: step.tables.length } };
  },
};
