import type { CreateDatabaseStep } from '../plan/model.js';
import type { StepContext, StepHandler } from './handler.js';
import { databaseOid, recordedIdentity, systemIdentifier } from '../pg/server-identity.js';
import { ident, literal } from '../pg/quote.js';
import { StepFailedError } from '../errors.js';
import { searchPathSchemas } from '../catalog/introspect-objects.js';

export interface DatabaseLocale {
  encoding: string;
  collate: string;
  ctype: string;
  localeProvider: string;
  icuLocale: string | null;
}

/** CREATE DATABASE cannot run in a transaction: it is sent alone, in autocommit. */
export function createDatabaseSql(database: string, owner: string | null, locale: DatabaseLocale): string[] {
  const parts = [`CREATE DATABASE ${ident(database)}`, 'TEMPLATE template0', `ENCODING ${literal(locale.encoding)}`];
  if (locale.localeProvider === 'i' && locale.icuLocale) {
    parts.push(`LOCALE_PROVIDER icu ICU_LOCALE ${literal(locale.icuLocale)}`);
  }
  parts.push(`LC_COLLATE ${literal(locale.collate)}`, `LC_CTYPE ${literal(locale.ctype)}`);
  if (owner) parts.push(`OWNER ${ident(owner)}`);
  return [parts.join(' ')];
}

/** Settings the tool makes itself and that are not the source's to hand on: the read-only mark of a retired source. */
const NOT_CARRIED = new Set(['default_transaction_read_only', 'transaction_read_only']);
/** Settings whose value is a list of names the server keeps quoted (`app, "My Schema"`): each name is quoted again. */
const NAME_LISTS = new Set(['search_path', 'temp_tablespaces', 'local_preload_libraries', 'session_preload_libraries']);

/** The source database's own settings (`name=value`) that a service database gets, with the ALTER DATABASE of each. */
export function databaseSettingsSql(database: string, settings: readonly string[]): Array<{ name: string; sql: string }> {
  return assignments(settings).map((a) => ({ name: a.name, sql: `ALTER DATABASE ${ident(database)} ${a.set}` }));
}

/** `SET name TO value` of each setting (`name=value`) handed on, the value quoted as the server reads it back. */
function assignments(settings: readonly string[]): Array<{ name: string; set: string }> {
  const out: Array<{ name: string; set: string }> = [];
  for (const setting of settings) {
    const at = setting.indexOf('=');
    if (at <= 0) continue;
    const name = setting.slice(0, at);
    const value = setting.slice(at + 1);
    if (NOT_CARRIED.has(name.toLowerCase())) continue;
    const to = NAME_LISTS.has(name.toLowerCase()) ? searchPathSchemas(value).map(ident).join(', ') || "''" : literal(value);
    out.push({ name, set: `SET ${ident(name)} TO ${to}` });
  }
  return out;
}

/**
 * The source's settings of one role in its database (`ALTER ROLE app IN DATABASE core SET
 * statement_timeout = '5s'`), made again for the new database where that role exists on
 * its server (a block that checks at run time, as the carried privileges do); a role
 * missing there is named in a notice. What the application's role found set on logging
 * in to the old database, it finds on the new one.
 */
export function roleSettingsSql(database: string, roleSettings: ReadonlyArray<{ role: string; settings: readonly string[] }>): Array<{ name: string; sql: string }> {
  const out: Array<{ name: string; sql: string }> = [];
  for (const { role, settings } of roleSettings) {
    const statements = assignments(settings).map((a) => ({ name: a.name, sql: `ALTER ROLE ${ident(role)} IN DATABASE ${ident(database)} ${a.set}` }));
    if (statements.length === 0) continue;
    const body = statements.map((x) => `    EXECUTE ${literal(x.sql)};`).join('\n');
    const notice = literal(`role ${role} does not exist on this server: its settings in ${database} are not carried`);
    let tag = 'cps';
    while (body.includes(`$${tag}$`) || notice.includes(`$${tag}$`)) tag += '_';
    out.push({
      name: `${statements.map((x) => x.name).join(', ')} of ${role}`,
      sql: `DO $${tag}$\nBEGIN\n  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = ${literal(role)}) THEN\n${body}\n  ELSE\n    RAISE NOTICE '%', ${notice};\n  END IF;\nEND $${tag}$`,
    });
  }
  return out;
}

/**
 * Tables, views, sequences or foreign tables in a database, the tool's own schema
 * included: a database holding a journal (the control database) or what another
 * split left is not empty.
 */
const NON_EMPTY_SQL = `
SELECT count(*)::int AS n,
       to_regclass('cloudphone_split.runs') IS NOT NULL AS journal
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
   AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
   AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')`;

/** Refuses a database that holds a cloudphone-split journal: never a target. */
async function assertNoJournal(ctx: StepContext, step: CreateDatabaseStep): Promise<void> {
  const { server, database } = step.target;
  const client = await ctx.pools.client(server, database);
  try {
    const row = (await client.query<{ journal: boolean }>(`SELECT to_regclass('cloudphone_split.runs') IS NOT NULL AS journal`)).rows[0];
    if (row?.journal) {
      throw new StepFailedError(step.id, `database ${database} on server ${server} holds a cloudphone-split journal (it is a control database); refusing to use it as a target. Choose another database name in the manifest.`);
    }
  } finally {
    await client.end();
  }
}

/** Refuses a database that holds anything: it is not this split's to take. */
async function assertEmpty(ctx: StepContext, step: CreateDatabaseStep, why: string): Promise<void> {
  const { server, database } = step.target;
  const client = await ctx.pools.client(server, database);
  try {
    const row = (await client.query<{ n: number; journal: boolean }>(NON_EMPTY_SQL)).rows[0];
    if (row?.journal) {
      throw new StepFailedError(
        step.id,
        `database ${database} on server ${server} holds a cloudphone-split journal (it is a control database); refusing to use it as a target. Choose another database name in the manifest.`,
      );
    }
    const n = row?.n ?? 0;
    if (n > 0) {
      throw new StepFailedError(
        step.id,
        `database ${database} already exists on server ${server} and holds ${n} relations that this split did not create (${why}); refusing to adopt it. Drop or rename it, or choose another database name in the manifest.`,
      );
    }
  } finally {
    await client.end();
  }
}

/**
 * Creates the service's database. The journal learns of it twice: `pending` (with
 * the server's system identifier) before CREATE DATABASE, so a crash right after it
 * is not forgotten (a statement that fails forgets it), then its OID once it exists:
 * rollback drops only a database whose OID and server match what was recorded here. A database that exists and that the
 * journal does not know is adopted only when empty (and never dropped by rollback).
 */
export const createDatabase: StepHandler<'create_database'> = {
  render: (step) => step.sql,
  async run(ctx, step: CreateDatabaseStep) {
    const { server, database } = step.target;
    const pool = ctx.pools.pool(server);
    const admin = await pool.connect();
    try {
      const sysid = await systemIdentifier(admin);
      const record = (await ctx.journal.created()).find((o) => o.kind === 'database' && o.server === server && o.name === database);
      const recorded = recordedIdentity(record?.detail);
      const oid = await databaseOid(admin, database);
      if (oid !== null) {
        if (record && recorded && recorded.oid === oid && recorded.systemIdentifier === sysid) {
          await applySettings(admin, step);
          return { detail: { existed: true } };
        }
        if (record && record.detail?.pending === true && (record.detail.systemIdentifier ?? null) === sysid) {
          // A run was killed between CREATE DATABASE and recording its OID (a CREATE that failed
          // forgets its pending record): the database is this split's. Rollback still refuses to
          // drop it while it holds a table the copy did not create.
          await assertNoJournal(ctx, step);
          await ctx.journal.recordCreated({ kind: 'database', server, name: database, detail: identityDetail(sysid, oid) });
          await applySettings(admin, step);
          return { detail: { existed: true } };
        }
        await assertEmpty(ctx, step, record ? 'it is not the database the split recorded' : 'the journal did not create it');
        await ctx.journal.recordCreated({ kind: 'database', server, name: database, detail: { adopted: true, ...identityDetail(sysid, oid) } });
        await applySettings(admin, step);
        return { detail: { existed: true } };
      }
      await ctx.journal.recordCreated({ kind: 'database', server, name: database, detail: { pending: true, systemIdentifier: sysid } });
      try {
        await admin.query(step.sql[0]!);
      } catch (err) {
        // Not created: the journal forgets it, so a database someone makes later under this name is never taken for the split's.
        const now = await databaseOid(admin, database).catch(() => -1);
        if (now === null) await ctx.journal.forgetCreated?.({ kind: 'database', server, name: database });
        throw err;
      }
      const created = await databaseOid(admin, database);
      if (created === null) throw new StepFailedError(step.id, `CREATE DATABASE ${database} returned, yet the database is missing`);
      await ctx.journal.recordCreated({ kind: 'database', server, name: database, detail: identityDetail(sysid, created) });
      await applySettings(admin, step);
      return {};
    } finally {
      admin.release();
    }
  },
};

/** What the journal keeps of a database the split owns: its OID on the server with this system identifier. */
function identityDetail(systemIdentifier: string | null, oid: number): Record<string, unknown> {
  return systemIdentifier === null ? { oid } : { systemIdentifier, oid };
}

/** The source's database settings (the step's statements after CREATE DATABASE), set again on every run: they are idempotent. */
async function applySettings(admin: { query: (sql: string) => Promise<unknown> }, step: CreateDatabaseStep): Promise<void> {
  for (const sql of step.sql.slice(1)) await admin.query(sql);
}
