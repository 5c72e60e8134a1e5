import type { PgClient } from '../steps/handler.js';
import { ident, literal } from '../pg/quote.js';
import { FENCE_SCHEMA, unfenceSql } from '../steps/fence-source.js';
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
 * Drops the fence triggers and the fence function. The tool's schema in the source is
 * dropped with them, unless the journal itself lives in that database and schema; the
 * function and schema stay while other splits' fences (other waves) still use them.
 */
export function unfenceStatements(tables: string[], journalInSource: boolean, otherFences = false): string[] {
  const sql = unfenceSql(tables);
  const triggers = sql.slice(0, -1);
  if (otherFences) return triggers;
  if (!journalInSource) return sql;
  return [...triggers, `DROP FUNCTION IF EXISTS ${ident(FENCE_SCHEMA)}."fence"()`];
}

/** Fence triggers left in the database once this split's are dropped: other waves' fences. */
async function fencesLeft(client: PgClient): Promise<number> {
  const r = await client.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = $1 AND p.proname = 'fence'`,
    [FENCE_SCHEMA],
  );
  return Number(r.rows[0]?.n ?? 0);
}

/** Lifts this split's fence, in one transaction; other splits' fences stay up (checked in that transaction). */
export async function removeFence(client: PgClient, tables: string[], journalInSource: boolean): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL lock_timeout = '60s'`);
    const triggers = unfenceStatements(tables, journalInSource, true);
    for (const s of triggers) await client.query(s);
    // Another wave's fence uses the same function: it stays with its schema.
    if ((await fencesLeft(client)) === 0) for (const s of unfenceStatements(tables, journalInSource).slice(triggers.length)) await client.query(s);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
