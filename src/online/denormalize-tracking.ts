import { createHash } from 'node:crypto';
import type pg from 'pg';
import { parseKey } from '../catalog/model.js';
import type { DenormalizeFill, Plan, StartReplicationStep, TargetRef } from '../plan/model.js';
import { ident, literal, qname } from '../pg/quote.js';

/**
 * Keeps denormalized columns current during replication, so that cutover refills only
 * the rows written since, inside the fence window. Before the fence, `cutover`
 * installs on the targets (never the source):
 *
 * - on the service's table `T` (in its new database), a row trigger that records the
 *   primary key of every row the subscription inserts, or whose reference (`local`
 *   columns) it changes;
 * - on the referenced table `F`, where a subscription of the split replicates it, a row
 *   trigger that records the referenced key of every row inserted, deleted, or whose
 *   key or value column changes;
 *
 * both `ENABLE ALWAYS` so that the apply worker fires them. Then it fills the column
 * for every row from the source (outside the write downtime). After the fence,
 * `catch_up` reads the recorded keys, looks up only their values in the fenced source
 * and updates only those rows, then drops the tool's schema from those databases.
 * Sessions that fill set `cloudphone_split.filling = on`, which the triggers ignore.
 */
export const TRACK_SCHEMA = 'cloudphone_split_track';
export const TRACK_COMMENT = 'cloudphone-split: keys written during replication, for denormalized columns (dropped at cutover)';
/** The setting a filling session sets: its own updates are not recorded. */
export const FILLING_SETTING = 'cloudphone_split.filling';

/** A fill the targets can track: its table has a primary key and its source table is replicated by the split. */
export interface TrackedFill {
  fill: DenormalizeFill;
  /** Where the source table (`fromTable`) is replicated to. */
  from: TargetRef;
  tag: string;
}

/** 8 hex characters naming one fill's trigger, functions and tables. */
export function fillTag(f: DenormalizeFill): string {
  return createHash('sha256').update(JSON.stringify([f.target.server, f.target.database, f.table, f.column])).digest('hex').slice(0, 8);
}

/** Where a subscription of the split replicates `table` (the fill's own database first); null when none does. */
export function replicatedTo(plan: Plan, f: DenormalizeFill): TargetRef | null {
  if (f.fromPartitioned) return null;
  const starts = plan.steps.filter((s): s is StartReplicationStep => s.kind === 'start_replication' && s.tables.includes(f.fromTable));
  const own = starts.find((s) => s.target.server === f.target.server && s.target.database === f.target.database);
  return (own ?? starts[0])?.target ?? null;
}

export const triggerName = (tag: string): string => `cloudphone_split_track_${tag}`;
const rowsTable = (tag: string): string => `${ident(TRACK_SCHEMA)}.${ident(`rows_${tag}`)}`;
const keysTable = (tag: string): string => `${ident(TRACK_SCHEMA)}.${ident(`keys_${tag}`)}`;
const rowsFunction = (tag: string): string => `${ident(TRACK_SCHEMA)}.${ident(`rows_${tag}`)}`;
const keysFunction = (tag: string): string => `${ident(TRACK_SCHEMA)}.${ident(`keys_${tag}`)}`;
/** A row here: the source table was truncated since the fill (a TRUNCATE fires no row trigger): catch_up refills every row. */
const truncatedTable = (tag: string): string => `${ident(TRACK_SCHEMA)}.${ident(`truncated_${tag}`)}`;
const truncatedFunction = (tag: string): string => `${ident(TRACK_SCHEMA)}.${ident(`truncated_${tag}`)}`;
export const truncateTriggerName = (tag: string): string => `cloudphone_split_track_${tag}_truncate`;

const newRow = (cols: readonly string[], rec: 'NEW' | 'OLD'): string => cols.map((c) => `${rec}.${ident(c)}`).join(', ');
const distinct = (cols: readonly string[]): string => `(${newRow(cols, 'NEW')}, NULL) IS DISTINCT FROM (${newRow(cols, 'OLD')}, NULL)`;
const skipWhileFilling = `IF current_setting(${literal(FILLING_SETTING)}, true) = 'on' THEN RETURN NULL; END IF;`;

function ensureSchemaSql(): string[] {
  return [`CREATE SCHEMA IF NOT EXISTS ${ident(TRACK_SCHEMA)}`, `COMMENT ON SCHEMA ${ident(TRACK_SCHEMA)} IS ${literal(TRACK_COMMENT)}`];
}

/** On the fill's database: the table of written rows (T's primary key) and the trigger that fills it. */
export function trackRowsSql(f: DenormalizeFill, tag: string, primaryKey: readonly string[]): string[] {
  const t = qname(parseKey(f.table));
  const local = f.on.map((o) => o.local);
  return [
    ...ensureSchemaSql(),
    `CREATE TABLE IF NOT EXISTS ${rowsTable(tag)} AS SELECT ${primaryKey.map(ident).join(', ')} FROM ONLY ${t} WITH NO DATA`,
    `TRUNCATE ${rowsTable(tag)}`,
    `CREATE OR REPLACE FUNCTION ${rowsFunction(tag)}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $track$
BEGIN
  ${skipWhileFilling}
  IF TG_OP = 'INSERT' OR ${distinct(local)} THEN
    INSERT INTO ${rowsTable(tag)} VALUES (${newRow(primaryKey, 'NEW')});
  END IF;
  RETURN NULL;
END
$track$`,
    `DROP TRIGGER IF EXISTS ${ident(triggerName(tag))} ON ${t}`,
    `CREATE TRIGGER ${ident(triggerName(tag))} AFTER INSERT OR UPDATE ON ${t} FOR EACH ROW EXECUTE FUNCTION ${rowsFunction(tag)}()`,
    `ALTER TABLE ${t} ENABLE ALWAYS TRIGGER ${ident(triggerName(tag))}`,
  ];
}

/** On the database the source table is replicated to: the table of changed referenced keys and its trigger. */
export function trackKeysSql(f: DenormalizeFill, tag: string): string[] {
  const from = qname(parseKey(f.fromTable));
  const remote = f.on.map((o) => o.remote);
  const watched = [...remote, f.fromColumn];
  return [
    ...ensureSchemaSql(),
    `CREATE TABLE IF NOT EXISTS ${keysTable(tag)} AS SELECT ${remote.map(ident).join(', ')} FROM ONLY ${from} WITH NO DATA`,
    `TRUNCATE ${keysTable(tag)}`,
    `CREATE OR REPLACE FUNCTION ${keysFunction(tag)}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $track$
BEGIN
  ${skipWhileFilling}
  IF TG_OP = 'INSERT' THEN
    INSERT INTO ${keysTable(tag)} VALUES (${newRow(remote, 'NEW')});
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO ${keysTable(tag)} VALUES (${newRow(remote, 'OLD')});
  ELSIF ${distinct(watched)} THEN
    INSERT INTO ${keysTable(tag)} VALUES (${newRow(remote, 'OLD')}), (${newRow(remote, 'NEW')});
  END IF;
  RETURN NULL;
END
$track$`,
    `DROP TRIGGER IF EXISTS ${ident(triggerName(tag))} ON ${from}`,
    `CREATE TRIGGER ${ident(triggerName(tag))} AFTER INSERT OR UPDATE OR DELETE ON ${from} FOR EACH ROW EXECUTE FUNCTION ${keysFunction(tag)}()`,
    `ALTER TABLE ${from} ENABLE ALWAYS TRIGGER ${ident(triggerName(tag))}`,
    `CREATE TABLE IF NOT EXISTS ${truncatedTable(tag)} (at timestamptz NOT NULL DEFAULT now())`,
    `TRUNCATE ${truncatedTable(tag)}`,
    `CREATE OR REPLACE FUNCTION ${truncatedFunction(tag)}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $track$
BEGIN
  INSERT INTO ${truncatedTable(tag)} DEFAULT VALUES;
  RETURN NULL;
END
$track$`,
    `DROP TRIGGER IF EXISTS ${ident(truncateTriggerName(tag))} ON ${from}`,
    `CREATE TRIGGER ${ident(truncateTriggerName(tag))} AFTER TRUNCATE ON ${from} FOR EACH STATEMENT EXECUTE FUNCTION ${truncatedFunction(tag)}()`,
    `ALTER TABLE ${from} ENABLE ALWAYS TRIGGER ${ident(truncateTriggerName(tag))}`,
  ];
}

/** Whether the tool's schema in this database is its own (absent, or commented as the tool comments it). */
export async function schemaIsOurs(c: pg.ClientBase): Promise<{ exists: boolean; ours: boolean }> {
  const r = await c.query<{ comment: string | null }>(
    `SELECT obj_description(oid, 'pg_namespace') AS comment FROM pg_namespace WHERE nspname = $1`,
    [TRACK_SCHEMA],
  );
  const row = r.rows[0];
  return { exists: row !== undefined, ours: row === undefined || row.comment === TRACK_COMMENT };
}

/** The columns of the primary key of `table` in this database, in key order (empty without one). */
export async function primaryKeyOf(c: pg.ClientBase, table: string): Promise<string[]> {
  const r = await c.query<{ name: string }>(
    `SELECT a.attname::text AS name
       FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])
      WHERE i.indrelid = to_regclass($1) AND i.indisprimary
      ORDER BY array_position(i.indkey::int2[], a.attnum)`,
    [qname(parseKey(table))],
  );
  return r.rows.map((x) => x.name);
}

/** relkind of `table` in this database (undefined: not there). */
export async function relkindOf(c: pg.ClientBase, table: string): Promise<string | undefined> {
  const r = await c.query<{ kind: string }>(`SELECT relkind::text AS kind FROM pg_class WHERE oid = to_regclass($1)`, [qname(parseKey(table))]);
  return r.rows[0]?.kind;
}

/**
 * Whether the tracking of `t` is in place in both databases (tables and triggers), as
 * `cutover` left it before the fence, and the source table was not truncated since.
 */
export async function trackingInPlace(rowsDb: pg.ClientBase, keysDb: pg.ClientBase, t: TrackedFill): Promise<boolean> {
  const check = async (c: pg.ClientBase, table: string, on: string): Promise<boolean> => {
    const r = await c.query<{ ok: boolean }>(
      `SELECT to_regclass($1) IS NOT NULL AND EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($2) AND tgname = $3 AND tgenabled = 'A') AS ok`,
      [table, qname(parseKey(on)), triggerName(t.tag)],
    );
    return r.rows[0]?.ok === true;
  };
  if (!(await check(rowsDb, rowsTable(t.tag), t.fill.table)) || !(await check(keysDb, keysTable(t.tag), t.fill.fromTable))) return false;
  const truncated = await keysDb.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${truncatedTable(t.tag)}`).catch(() => ({ rows: [{ n: 1 }] }));
  return truncated.rows[0]!.n === 0;
}

/** The rows and keys tables of a fill, as SQL names (for catch_up). */
export function trackTables(tag: string): { rows: string; keys: string } {
  return { rows: rowsTable(tag), keys: keysTable(tag) };
}

/** Drops the tool's schema (its tables, functions and, with them, its triggers) when it is the tool's. */
export async function dropTracking(c: pg.ClientBase): Promise<boolean> {
  const s = await schemaIsOurs(c);
  if (!s.exists || !s.ours) return false;
  await c.query(`DROP SCHEMA ${ident(TRACK_SCHEMA)} CASCADE`);
  return true;
}
