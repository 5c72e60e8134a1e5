import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, type MigrationProvider } from 'kysely';
import { migrations, JOURNAL_SCHEMA } from '../../migrations/index.js';
import { databaseOf, redact, withDatabase } from '../conn/connection.js';
import { ident } from '../pg/quote.js';
import { keepClientErrorsQuiet } from '../pg/pools.js';
import { BadInputError, ServerError } from '../errors.js';
import { connectError, isLoginRejected } from '../pg/errors.js';
import type { JournalDb } from './journal-schema.js';
import { nodePgConfig } from '../conn/node-pg.js';

export { CONTROL_DATABASE, controlUrlFor } from './control-url.js';

const provider: MigrationProvider = { getMigrations: async () => migrations };

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

async function connect(url: string, applicationName: string): Promise<pg.Client> {
  const client = new pg.Client(nodePgConfig(url, { application_name: applicationName, connectionTimeoutMillis: 30_000 }));
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return client;
}

/**
 * Creates the control database when it is missing. CREATE DATABASE cannot run in a
 * transaction and two first runs may race: 42P04 (duplicate_database) means it is there.
 */
export async function ensureDatabase(url: string, applicationName = 'cloudphone-split'): Promise<void> {
  try {
    await (await connect(url, applicationName)).end();
    return;
  } catch (err) {
    if (sqlState(err) !== '3D000') throw err;
  }
  let lastError: unknown;
  for (const maintenance of ['postgres', 'template1']) {
    let client: pg.Client;
    try {
      client = await connect(withDatabase(url, maintenance), applicationName);
    } catch (err) {
      lastError = err;
      continue;
    }
    try {
      await client.query(`CREATE DATABASE ${ident(databaseOf(url))}`);
      return;
    } catch (err) {
      // 23505: the other run's CREATE DATABASE committed while this one ran (the unique index on the name caught it).
      if (sqlState(err) === '42P04' || sqlState(err) === '23505') return;
      throw err;
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  throw lastError;
}

/** Brings the journal schema to the latest migration. Safe to run concurrently and repeatedly. */
export async function migrateJournal(db: Kysely<unknown>): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider,
    migrationTableSchema: JOURNAL_SCHEMA,
    migrationTableName: 'migrations',
    migrationLockTableName: 'migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * Opens the control database (creating it and migrating the journal schema first)
 * and returns a kysely instance whose queries address the journal schema.
 */
export async function openJournalDb(
  controlUrl: string,
  options: { applicationName?: string; poolSize?: number } = {},
): Promise<Kysely<JournalDb>> {
  const applicationName = options.applicationName ?? 'cloudphone-split';
  let db: Kysely<JournalDb> | undefined;
  try {
    await ensureDatabase(controlUrl, applicationName);
    const pool = new pg.Pool(
      nodePgConfig(controlUrl, {
        max: options.poolSize ?? 4,
        application_name: applicationName,
        connectionTimeoutMillis: 30_000,
        idleTimeoutMillis: 10_000,
      }),
    );
    keepClientErrorsQuiet(pool);
    db = new Kysely<JournalDb>({ dialect: new PostgresDialect({ pool }) });
    await migrateJournal(db as Kysely<unknown>);
    return db.withSchema(JOURNAL_SCHEMA);
  } catch (err) {
    await db?.destroy().catch(() => undefined);
    // A rejected login is the URL's fault (exit 2, naming it), not a server that may answer later.
    if (isLoginRejected(err)) throw connectError(err, controlUrl, 'control');
    const message = err instanceof Error ? err.message : String(err);
    if ((err as { code?: unknown }).code === '42501') {
      // The control database is there; its journal is not this role's to use.
      throw new BadInputError(
        `cannot open the journal in ${redact(controlUrl)}: ${message}`,
        `the journal's tables are written by every command but plan and status: as their owner (the role that applied the split), GRANT USAGE ON SCHEMA ${JOURNAL_SCHEMA} TO <role>; ` +
          `GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA ${JOURNAL_SCHEMA} TO <role>; GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${JOURNAL_SCHEMA} TO <role>; or run as that role`,
        { cause: err },
      );
    }
    throw new ServerError(
      `cannot open the journal in ${redact(controlUrl)}: ${message}`,
      'check the control database URL (manifest `control.url`, or the source server) and that its role may create databases',
      { cause: err },
    );
  }
}
