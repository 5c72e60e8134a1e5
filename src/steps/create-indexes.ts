import type { CreateIndexesStep } from '../plan/model.js';
import type { StepHandler } from './handler.js';
import { inTransaction, runMarked } from './marker.js';

/** Target session settings for index builds (pgcopydb's): big sort memory, no waiting on WAL flush. */
export const INDEX_SESSION_SETTINGS: readonly string[] = [
  `SET maintenance_work_mem = '512MB'`,
  'SET synchronous_commit = off',
  'SET statement_timeout = 0',
];

/**
 * Post-data of one table (keys, indexes, triggers, policies), or the service's
 * foreign keys, views and sequence ownership: one transaction with the marker.
 */
export const createIndexes: StepHandler<'create_indexes'> = {
  render: (step) => [...INDEX_SESSION_SETTINGS, ...inTransaction(step.sql)],
  async run(ctx, step: CreateIndexesStep) {
    const client = await ctx.pools.client(step.target.server, step.target.database);
    try {
      for (const s of INDEX_SESSION_SETTINGS) await client.query(s);
      const { skipped } = await runMarked(client, step.id, step.sql);
      return { detail: { skipped } };
    } finally {
      await client.end();
    }
  },
};
