import type { PgClient } from '../steps/handler.js';
import { ident, literal, qname } from '../pg/quote.js';
import { parseKey } from '../catalog/model.js';
import { readTableStates } from '../retention/table-backup.js';
import { FENCE_SCHEMA, FENCE_TRIGGER, unfenceSql } from '../steps/fence-source.js';
import type { RollbackInventory } from './rollback-inventory.js';

const PRIVILEGES = new Set(['CONNECT', 'TEMPORARY', 'CREATE']);

/**
 * The GRANTs that give back what schedule_retention revoked: every privilege of the
 * prior ACL (the default one when it was null) that the database lacks now. Grants
 * made since are left as they are.
 */
export async function aclRestoreSql(client: PgClient, database: string, priorAcl: string | null): Promise<string[]> {
  const r = await client.query<{ grantee: string; rolname: string | null; privilege_type: string; is_grantable: boolean }>(
    `WITH d AS (SELECT datdba, datacl FROM pg_database WHERE datname = $1),
          prior AS (SELECT (x).grantee, (x).privilege_type, (x).is_grantable
                      FROM (SELECT aclexplode(coalesce($2::aclitem[], acldefault('d', d.datdba))) AS x FROM d) s),
          cur AS (SELECT (x).grantee, (x).privilege_type, (x).is_grantable
                    FROM (SELECT aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) AS x FROM d) s),
          missing AS (SELECT * FROM prior EXCEPT SELECT * FROM cur)
     SELECT m.grantee::text AS grantee, r.rolname, m.privilege_type, m.is_grantable
       FROM missing m LEFT JOIN pg_roles r ON r.oid = m.grantee
      ORDER BY 1, 3`,
    [database, priorAcl],
  );
  const sql: string[] = [];
  for (const g of r.rows) {
    if (!PRIVILEGES.has(g.privilege_type)) continue;
    const to = g.grantee === '0' ? 'PUBLIC' : g.rolname ? ident(g.rolname) : null;
    if (!to) continue;
    sql.push(`GRANT ${g.privilege_type} ON DATABASE ${ident(database)} TO ${to}${g.is_grantable ? ' WITH GRANT OPTION' : ''}`);
  }
  return sql;
}

/** What lifting the backup mark did. */
export interface LiftReport {
  readOnlyLifted: boolean;
  grants: string[];
  commentRestored: boolean;
  warnings: string[];
}

/**
 * Gives the source database back its state before schedule_retention: its own
 * default_transaction_read_only setting, the privileges revoked from PUBLIC, and its
 * comment (only while the comment is still the one the split wrote).
 * `client` is connected to the source database with read-write transactions.
 */
export async function liftBackupMark(client: PgClient, database: string, split: string, prior: NonNullable<RollbackInventory['prior']>): Promise<LiftReport> {
  const report: LiftReport = { readOnlyLifted: false, grants: [], commentRestored: false, warnings: [] };
  const db = ident(database);
  await client.query(
    prior.readOnly === null
      ? `ALTER DATABASE ${db} RESET default_transaction_read_only`
      : `ALTER DATABASE ${db} SET default_transaction_read_only = ${literal(prior.readOnly)}`,
  );
  report.readOnlyLifted = true;
  try {
    report.grants = await aclRestoreSql(client, database, prior.acl);
  } catch (err) {
    report.warnings.push(`could not work out the privileges to give back (${(err as Error).message}); before the split they were: ${prior.acl ?? 'the defaults'}`);
  }
  for (const g of report.grants) await client.query(g);
  const current = await client.query<{ c: string | null }>(`SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = $1`, [database]);
  const comment = current.rows[0]?.c ?? null;
  const ours = prior.written !== null ? comment === prior.written : (comment ?? '').startsWith(`cloudphone-split: backup of split ${split},`);
  if (ours) {
    await client.query(`COMMENT ON DATABASE ${db} IS ${prior.comment === null ? 'NULL' : literal(prior.comment)}`);
    report.commentRestored = true;
  } else if (comment !== prior.comment) {
    report.warnings.push(`the comment on ${database} was changed since the split wrote it: left as it is`);
  }
  return report;
}

/**
 * Puts back the comment of each moved table that schedule_retention marked (a split
 * without retire), only where the comment is still the one the split wrote; a table
 * that is gone or whose comment changed since is left as it is, with a warning.
 * Returns how many were restored.
 */
export async function restoreTableComments(client: PgClient, marks: NonNullable<RollbackInventory['tableMarks']>): Promise<{ restored: number; warnings: string[] }> {
  const warnings: string[] = [];
  const states = await readTableStates(client, marks.tables.map((t) => t.table));
  let restored = 0;
  for (const t of marks.tables) {
    const now = states.get(t.table);
    if (!now) {
      warnings.push(`${t.table} no longer exists in the source: its comment was not restored`);
      continue;
    }
    if (now.comment !== marks.written) {
      if (now.comment !== t.priorComment) warnings.push(`the comment on ${t.table} was changed since the split wrote it: left as it is`);
      continue;
    }
    await client.query(`COMMENT ON TABLE ${qname(parseKey(t.table))} IS ${t.priorComment === null ? 'NULL' : literal(t.priorComment)}`);
    restored++;
  }
  return { restored, warnings };
}

/**
 * Drops the fence triggers of `tables`. The fence function (and the tool's schema in
 * the source, unless the journal itself lives in that database and schema) goes only
 * when no other table is fenced with it any more: another split of the same source
 * (a wave) keeps its fence.
 */
export function unfenceStatements(tables: string[], journalInSource: boolean, split?: string): string[] {
  const triggers = unfenceSql(tables, split).slice(0, -1);
  const fn = `${ident(FENCE_SCHEMA)}."fence"()`;
  const last = journalInSource ? `DROP FUNCTION IF EXISTS ${fn}` : `DROP SCHEMA IF EXISTS ${ident(FENCE_SCHEMA)} CASCADE`;
  return [
    ...triggers,
    `DO $unfence$ BEGIN
  IF to_regprocedure(${literal(`${FENCE_SCHEMA}.fence()`)}) IS NULL
     OR NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgfoid = to_regprocedure(${literal(`${FENCE_SCHEMA}.fence()`)})) THEN
    EXECUTE ${literal(last)};
  END IF;
END $unfence$`,
  ];
}

/** The source's tables that still carry a fence (of another split of the same source: a wave), `schema.table`, sorted. */
export async function fencedTables(client: PgClient): Promise<string[]> {
  const r = await client.query<{ t: string }>(
    `SELECT n.nspname || '.' || c.relname AS t FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE g.tgname = ${literal(FENCE_TRIGGER)} ORDER BY 1`,
  );
  return r.rows.map((row) => row.t);
}

export async function removeFence(client: PgClient, tables: string[], journalInSource: boolean, split?: string): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL lock_timeout = '60s'`);
    for (const s of unfenceStatements(tables, journalInSource, split)) await client.query(s);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
