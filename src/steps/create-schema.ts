import type { CreateSchemaStep } from '../plan/model.js';
import type { StepHandler } from './handler.js';
import { inTransaction, runMarked } from './marker.js';

/**
 * Pre-data of one service database (extensions, types, functions, sequences,
 * tables without indexes or foreign keys) in one transaction, with the marker.
 */
export const createSchema: StepHandler<'create_schema'> = {
  render: (step) => inTransaction(step.sql),
  async run(ctx, step: CreateSchemaStep) {
    const client = await ctx.pools.client(step.target.server, step.target.database);
    try {
      const { skipped } = await runMarked(client, step.id, step.sql);
      return { detail: { skipped } };
    } finally {
      await client.end();
    }
  },
};
