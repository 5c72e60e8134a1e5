import type { CreateIndexesStep } from '../plan/model.js';
import { parseKey, type QualifiedName } from '../catalog/model.js';
import { qname } from '../pg/quote.js';
import type { StepHandler } from './handler.js';
import { inTransaction, markedAmong, runMarked } from './marker.js';
import { BATCH_BYTES, BATCH_MAX, plannedBytes, targetKey } from './batch-size.js';
import { pauseForTest } from '../engine/test-pause.js';
import { sessionCache, TARGET_SESSION_SETTINGS } from './session-cache.js';

/** Target session settings for index builds (pgcopydb's): big sort memory, no waiting on WAL flush. */
export const INDEX_SESSION_SETTINGS: readonly string[] = TARGET_SESSION_SETTINGS;

/** `VACUUM (ANALYZE)` of a table once its data and indexes are in: statistics for the planner, and the visibility map. */
export function vacuumAnalyzeSql(table: QualifiedName): string {
  return `VACUUM (ANALYZE) ${qname(table)}`;
}

/**
 * What a batch runs after its commit: the steps' `afterCommit` statements, with the
 * tables' `VACUUM (ANALYZE)` as one statement naming them all (each table is still
 * vacuumed in a transaction of its own, but the database-wide bookkeeping VACUUM does
 * after each command, a scan of pg_class, runs once instead of once per table).
 */
export function afterCommitOf(steps: readonly CreateIndexesStep[]): string[] {
  const tables: QualifiedName[] = [];
  const others: string[] = [];
  for (const step of steps) {
    const table = step.table === undefined ? undefined : parseKey(step.table);
    for (const statement of step.afterCommit ?? []) {
      if (table && statement === vacuumAnalyzeSql(table)) tables.push(table);
      else others.push(statement);
    }
  }
  return [...others, ...(tables.length > 0 ? [`VACUUM (ANALYZE) ${tables.map(qname).join(', ')}`] : [])];
}

/**
 * Post-data of one table (keys, indexes, triggers, policies), or the service's
 * foreign keys, views and sequence ownership: one transaction with the marker;
 * then, outside it, the table's VACUUM (ANALYZE).
 */
export const createIndexes: StepHandler<'create_indexes'> = {
  render: (step) => [...INDEX_SESSION_SETTINGS, ...inTransaction(step.sql), ...(step.afterCommit ?? [])],
  async run(ctx, step: CreateIndexesStep) {
    const { server, database } = step.target;
    const sessions = sessionCache(ctx.pools);
    const client = await sessions.target(server, database);
    let clean = false;
    try {
      // Every session is the cache's: the setting is given each time (a copy ignores it).
      if (ctx.indexWorkers !== undefined) await client.query(`SET max_parallel_maintenance_workers = ${ctx.indexWorkers}`);
      const { skipped } = await runMarked(client, step.id, step.sql);
      for (const s of step.afterCommit ?? []) await client.query(s);
      clean = true;
      return { detail: { skipped } };
    } finally {
      if (clean) sessions.releaseTarget(server, database, client);
      else await client.end().catch(() => undefined);
    }
  },
  /**
   * The index steps of small tables of one database: every step's statements (with its
   * marker) in one transaction, steps already marked left out; after the commit, each
   * table's VACUUM (ANALYZE). A crash before the commit leaves nothing; after it, the
   * markers make a rerun skip the statements. The tables' VACUUM (ANALYZE) runs as one
   * statement (afterCommitOf).
   */
  batch: {
    max: BATCH_MAX,
    accepts: (step, plan) => step.table !== undefined && (plannedBytes(plan, step.table) ?? Infinity) <= BATCH_BYTES,
    key: (step) => targetKey(step.target),
    async run(ctx, steps) {
      const { server, database } = steps[0]!.target;
      const sessions = sessionCache(ctx.pools);
      const client = await sessions.target(server, database);
      let clean = false;
      try {
        if (ctx.indexWorkers !== undefined) await client.query(`SET max_parallel_maintenance_workers = ${ctx.indexWorkers}`);
        const marked = await markedAmong(client, steps.map((s) => s.id));
        await client.query('BEGIN');
        try {
          for (const step of steps) {
            if (marked.has(step.id)) continue;
            // A step's statements in one round trip (a simple query of several statements, in the batch's transaction).
            await client.query(step.sql.join('\n;\n'));
            await pauseForTest(ctx.env, ctx.pools, 'within', step.id);
          }
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
        for (const statement of afterCommitOf(steps)) await client.query(statement);
        clean = true;
        return steps.map((s) => ({ detail: { skipped: marked.has(s.id), batch: steps.length } }));
      } finally {
        if (clean) sessions.releaseTarget(server, database, client);
        else await client.end().catch(() => undefined);
      }
    },
  },
};
