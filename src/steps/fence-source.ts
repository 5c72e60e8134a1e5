import type pg from 'pg';
import { rejectWritesFunctionSql } from '../pg/reject-writes.js';
import type { FenceSourceStep } from '../plan/model.js';
import type { StepHandler } from './handler.js';
import { ident, literal, qname } from '../pg/quote.js';
import { parseKey } from '../catalog/model.js';

export const FENCE_SCHEMA = 'cloudphone_split';
export const FENCE_TRIGGER = 'cloudphone_split_fence';
/**
 * The fence's row trigger on each moved partitioned table that is no partition itself:
 * PostgreSQL clones a row trigger onto every partition, present and future, under the
 * same name, so a partition created (or attached) after the fence refuses the writes
 * made straight into it too. Statement triggers are not cloned.
 */
export const FENCE_ROWS_TRIGGER = 'cloudphone_split_fence_rows';
/** The advisory lock (one bigint key: a space apart from the two-key run lock) held while a fence step makes the fence function. */
export const FENCE_FUNCTION_LOCK = 7_361_002_718_425_600_001n;

/**
 * The fence: a statement trigger on every moved table of the source that rejects
 * INSERT, UPDATE, DELETE and TRUNCATE with an error naming the new database.
 * ENABLE ALWAYS so that sessions with session_replication_role=replica are fenced too.
 * One writer goes through: the apply worker of the split's own reverse replication
 * (a subscription named `cps_<8 hex of the split>_rev_...`, see reverse-sql.ts), found
 * by its pid in pg_stat_subscription. Its INSERTs, UPDATEs and DELETEs never fire
 * statement triggers anyway; a replicated TRUNCATE does. Each moved partition tree's
 * root also gets the row trigger FENCE_ROWS_TRIGGER (`partitionRoot`): it lets the same
 * worker's rows through (a row trigger returning NULL would skip them).
 */
export function fenceSql(split: string, tables: Array<{ table: string; database: string; partitionRoot?: boolean }>): string[] {
  const sql = [
    `SET LOCAL lock_timeout = '60s'`,
    // Fence steps running at once (apply --service of two services, or two splits of one source) take turns to
    // make the shared function: a second CREATE OR REPLACE waiting on the first fails with "tuple concurrently updated".
    `SELECT pg_advisory_xact_lock(${FENCE_FUNCTION_LOCK})`,
    // Under that lock, a fence another split made meanwhile (two applies at once, each checked before the other fenced) is seen.
    fenceConflictSql(split, tables.map((t) => t.table)),
    `CREATE SCHEMA IF NOT EXISTS ${ident(FENCE_SCHEMA)}`,
    rejectWritesFunctionSql(
      `${ident(FENCE_SCHEMA)}."fence"`,
      'fence',
      'table %I.%I has moved to database %s: write there instead (fenced by cloudphone-split, split %s)',
      'the service that owns this table now uses its own database; repoint the writer',
      `  -- The apply worker of this split's reverse replication (after cutover) writes through.
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_stat_subscription
              WHERE pid = pg_catalog.pg_backend_pid()
                AND subname LIKE 'cps\_' || left(encode(sha256(convert_to(TG_ARGV[1], 'UTF8')), 'hex'), 8) || '\_rev\_%') THEN
    IF TG_LEVEL = 'ROW' THEN
      IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
      RETURN NEW;
    END IF;
    RETURN NULL;
  END IF;
`,
    ),
  ];
  for (const { table, database, partitionRoot } of tables) {
    sql.push(`DROP TRIGGER IF EXISTS ${ident(FENCE_TRIGGER)} ON ${qname(parseKey(table))}`, ...fenceTriggerSql(split, table, database));
    if (partitionRoot) sql.push(`DROP TRIGGER IF EXISTS ${ident(FENCE_ROWS_TRIGGER)} ON ${qname(parseKey(table))}`, ...fenceRowsTriggerSql(split, table, database));
  }
  return sql;
}

/** `tgargs` holds the fence's two arguments, each ended by a NUL byte: the database, then the split. */
const SPLIT_OF_ARGS = `convert_from(substring(g.tgargs FROM position(decode('00', 'hex') IN g.tgargs) + 1 FOR length(g.tgargs) - position(decode('00', 'hex') IN g.tgargs) - 1), 'UTF8')`;

function regclasses(tables: readonly string[]): string {
  return `ARRAY[${tables.map((t) => `to_regclass(${literal(qname(parseKey(t)))})`).join(', ')}]::regclass[]`;
}

/**
 * Fails the fence's transaction when one of its tables carries another split's fence:
 * a table is never moved twice (SPEC §7), and replacing that fence would leave the other
 * split's service writing to its database while this one's took the table too.
 */
export function fenceConflictSql(split: string, tables: readonly string[]): string {
  return `DO $fence_check$ DECLARE r record; BEGIN
  FOR r IN SELECT format('%s.%s', n.nspname, c.relname) AS t, ${SPLIT_OF_ARGS} AS split
             FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE g.tgname = ${literal(FENCE_TRIGGER)} AND g.tgrelid = ANY (${regclasses(tables)}) LOOP
    IF r.split IS DISTINCT FROM ${literal(split)} THEN
      RAISE EXCEPTION 'table % was moved by split % meanwhile (its fence is on it), and a table is never moved twice: roll this split back (cloudphone-split rollback), then make a new plan, which leaves that split''s tables alone', r.t, r.split;
    END IF;
  END LOOP;
END $fence_check$`;
}

/** The row fence of a partition tree's root (the fence function must exist): made, cloned by PostgreSQL onto every partition, then enabled for every session. */
export function fenceRowsTriggerSql(split: string, table: string, database: string): string[] {
  const t = qname(parseKey(table));
  return [
    `CREATE TRIGGER ${ident(FENCE_ROWS_TRIGGER)} BEFORE INSERT OR UPDATE OR DELETE ON ${t} FOR EACH ROW EXECUTE FUNCTION ${ident(FENCE_SCHEMA)}."fence"(${literal(database)}, ${literal(split)})`,
    `ALTER TABLE ${t} ENABLE ALWAYS TRIGGER ${ident(FENCE_ROWS_TRIGGER)}`,
  ];
}

/** The fence trigger of one table (the fence function must exist): made, then enabled for every session. */
export function fenceTriggerSql(split: string, table: string, database: string): string[] {
  const t = qname(parseKey(table));
  return [
    `CREATE TRIGGER ${ident(FENCE_TRIGGER)} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${t} FOR EACH STATEMENT EXECUTE FUNCTION ${ident(FENCE_SCHEMA)}."fence"(${literal(database)}, ${literal(split)})`,
    `ALTER TABLE ${t} ENABLE ALWAYS TRIGGER ${ident(FENCE_TRIGGER)}`,
  ];
}

/**
 * Once no table carries the fence any more (`retention prune` dropped the last fenced
 * tables): the fence function goes, then the tool's schema in the source if nothing
 * else is left in it (the journal, when it lives in this database, keeps it). Run under
 * FENCE_FUNCTION_LOCK, so a fence step making the function at that moment waits.
 */
export function dropUnusedFenceSql(): string[] {
  const fn = literal(`${FENCE_SCHEMA}.fence()`);
  const ns = literal(FENCE_SCHEMA);
  return [
    `SELECT pg_advisory_xact_lock(${FENCE_FUNCTION_LOCK})`,
    `DO $unused_fence$ BEGIN
  IF to_regprocedure(${fn}) IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgfoid = to_regprocedure(${fn})) THEN
    DROP FUNCTION ${ident(FENCE_SCHEMA)}."fence"();
  END IF;
  IF to_regnamespace(${ns}) IS NOT NULL AND NOT EXISTS (
       SELECT 1 FROM pg_catalog.pg_depend WHERE refclassid = 'pg_catalog.pg_namespace'::regclass AND refobjid = to_regnamespace(${ns})) THEN
    DROP SCHEMA ${ident(FENCE_SCHEMA)};
  END IF;
END $unused_fence$`,
  ];
}

/**
 * Lifts the fence (rollback): drops the triggers and the tool's schema in the source.
 * With `split`, only the triggers of that split's fence: a table another split fenced
 * keeps its fence (the journal records the fence before its transaction, which a
 * conflicting fence fails).
 */
export function unfenceSql(tables: string[], split?: string): string[] {
  if (split !== undefined) {
    return [
      `DO $unfence$ DECLARE r record; BEGIN
  FOR r IN SELECT g.tgrelid::regclass::text AS t, g.tgname::text AS name FROM pg_catalog.pg_trigger g
            WHERE g.tgname IN (${literal(FENCE_TRIGGER)}, ${literal(FENCE_ROWS_TRIGGER)}) AND g.tgparentid = 0
              AND g.tgrelid = ANY (${regclasses(tables)}) AND ${SPLIT_OF_ARGS} = ${literal(split)} LOOP
    EXECUTE format('DROP TRIGGER %I ON %s', r.name, r.t);
  END LOOP;
END $unfence$`,
      `DROP SCHEMA IF EXISTS ${ident(FENCE_SCHEMA)} CASCADE`,
    ];
  }
  return [
    unfenceRowsSql(tables),
    ...tables.map((table) => `DROP TRIGGER IF EXISTS ${ident(FENCE_TRIGGER)} ON ${qname(parseKey(table))}`),
    `DROP SCHEMA IF EXISTS ${ident(FENCE_SCHEMA)} CASCADE`,
  ];
}

/**
 * Drops the row fence of those of `tables` that carry it as a root (its clones on the
 * partitions go with it; they cannot be dropped on their own). One statement, whatever
 * the order of the tables and whether the fence had row triggers (fences made before them did not).
 */
export function unfenceRowsSql(tables: string[]): string {
  const regs = tables.map((t) => `to_regclass(${literal(qname(parseKey(t)))})`).join(', ');
  return `DO $unfence_rows$ DECLARE r record; BEGIN
  FOR r IN SELECT g.tgrelid::regclass::text AS t FROM pg_catalog.pg_trigger g
            WHERE g.tgname = ${literal(FENCE_ROWS_TRIGGER)} AND g.tgparentid = 0 AND g.tgrelid = ANY (ARRAY[${regs}]::regclass[]) LOOP
    EXECUTE format('DROP TRIGGER %I ON %s', ${literal(FENCE_ROWS_TRIGGER)}, r.t);
  END LOOP;
END $unfence_rows$`;
}

/** How many times the fence's transaction is tried when PostgreSQL ends it to break a deadlock. */
export const FENCE_ATTEMPTS = 5;

/**
 * The fence's transaction on a connection of its own, tried again (up to FENCE_ATTEMPTS)
 * when PostgreSQL ends it to break a deadlock (40P01): at cutover the services still write,
 * and a transaction that writes one moved table and then another waits on the fence's lock
 * on the second while the fence waits on its first. The fence's locks are all released by
 * the rollback, so the writer finishes and the next try finds it gone. Every try makes the
 * whole fence (its statements are idempotent) or nothing. Returns the number of retries.
 */
export async function fenceTransaction(connect: () => Promise<pg.Client>, sql: readonly string[], attempts = FENCE_ATTEMPTS): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const client = await connect();
    try {
      // One round trip for every statement (simple protocol, in the transaction): at cutover this runs inside the window.
      // COMMIT goes on its own: a run killed while a statement waits for a lock must leave no fence behind (the server
      // would otherwise finish the string, COMMIT included, for a client that is gone).
      await client.query(['BEGIN', ...sql].join(';\n'));
      await client.query('COMMIT');
      return attempt - 1;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      if ((err as { code?: string }).code !== '40P01' || attempt >= attempts) throw err;
    } finally {
      await client.end();
    }
    // A short pause, longer each time, so the writer that won the deadlock can commit.
    await new Promise((r) => setTimeout(r, 100 * attempt));
  }
}

export const fenceSource: StepHandler<'fence_source'> = {
  render: (step) => ['BEGIN', ...step.sql, 'COMMIT'],
  async run(ctx, step: FenceSourceStep) {
    // One record per source: the fences of several services (one step each) add up.
    const name = ctx.plan.source.database;
    const before = (await ctx.journal.created()).find((o) => o.kind === 'fence' && o.server === 'source' && o.name === name);
    const recorded = Array.isArray(before?.detail?.tables) ? (before.detail.tables as unknown[]).filter((t): t is string => typeof t === 'string') : [];
    await ctx.journal.recordCreated({ kind: 'fence', server: 'source', name, detail: { tables: [...new Set([...recorded, ...step.tables])] } });
    const retries = await fenceTransaction(() => ctx.pools.client('source'), step.sql);
    return { detail: { tables: step.tables.length, ...(retries > 0 ? { deadlockRetries: retries } : {}) } };
  },
};
