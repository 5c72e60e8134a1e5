import type { StartReplicationStep, StartServerCopyStep } from '../plan/model.js';
import type { StepHandler } from './handler.js';
import { startReplication } from './start-replication.js';
import { emptyTablesSql } from '../server-copy/server-copy-sql.js';

/** The same objects as online mode's start_replication makes, for these leaf tables. */
export function asReplication(step: StartServerCopyStep): StartReplicationStep {
  return {
    id: step.id,
    kind: 'start_replication',
    ...(step.service !== undefined ? { service: step.service } : {}),
    description: step.description,
    sql: step.sql,
    dependsOn: step.dependsOn,
    target: step.target,
    publication: step.publication,
    subscription: step.subscription,
    slot: step.slot,
    tables: step.tables.map((t) => t.table),
    sameServer: step.target.server === 'source',
    leaves: step.tables.map((t) => ({ table: t.table, source: t.source, columns: t.columns })),
  };
}

/**
 * `start_server_copy`: the publication, slot and replication role on the source and
 * the subscription (copy_data) on the target, each recorded in the journal before it
 * is made (rollback drops them), as online mode's start_replication does. A
 * subscription still there from an interrupted run is kept: its target server goes on
 * copying by itself, and a table it had not finished is copied again whole in one
 * transaction. Without one, the tables are emptied first, so a subscription made again
 * can never add rows to rows already there.
 */
export const startServerCopy: StepHandler<'start_server_copy'> = {
  render: (step) => step.sql,
  async run(ctx, step: StartServerCopyStep) {
    const dst = await ctx.pools.client(step.target.server, step.target.database);
    let emptied = false;
    try {
      const sub = await dst.query(
        `SELECT 1 FROM pg_subscription WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [step.subscription],
      );
      if (!sub.rowCount && step.tables.length > 0) {
        await dst.query(emptyTablesSql(step.tables.map((t) => t.table)));
        emptied = true;
      }
    } finally {
      await dst.end();
    }
    const r = await startReplication.run(ctx, asReplication(step));
    return { detail: { ...r.detail, emptied } };
  },
};
