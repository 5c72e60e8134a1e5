import type { CreateDatabaseStep } from '../plan/model.js';
import type { StepHandler } from './handler.js';
import { ident, literal } from '../pg/quote.js';
import { StepFailedError } from '../errors.js';

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

/** Tables, views, sequences, functions or types in a database other than the tool's own marker. */
const NON_EMPTY_SQL = `
SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'cloudphone_split')
  AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
  AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')`;

export const createDatabase: StepHandler<'create_database'> = {
  render: (step) => step.sql,
  async run(ctx, step: CreateDatabaseStep) {
    const { server, database } = step.target;
    const pool = ctx.pools.pool(server);
    const exists = (await pool.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [database])).rowCount === 1;
    const ours = (await ctx.journal.created()).some(
      (o) => o.kind === 'database' && o.server === server && o.name === database,
    );
    if (exists) {
      if (!ours) {
        const client = await ctx.pools.client(server, database);
        try {
          const n = (await client.query<{ n: number }>(NON_EMPTY_SQL)).rows[0]?.n ?? 0;
          if (n > 0) {
            throw new StepFailedError(
              step.id,
              `database ${database} already exists on server ${server} and holds ${n} relations that this split did not create; refusing to adopt it. Drop or rename it, or choose another database name in the manifest.`,
            );
          }
        } finally {
          await client.end();
        }
        await ctx.journal.recordCreated({ kind: 'database', server, name: database, detail: { adopted: true } });
      }
      return { detail: { existed: true } };
    }
    await ctx.journal.recordCreated({ kind: 'database', server, name: database });
    try {
      await pool.query(step.sql[0]!);
    } catch (err) {
      // 42P04: created meanwhile (a racing run); 23505: same race caught by the catalog's unique index.
      const code = (err as { code?: string }).code;
      if (code !== '42P04' && code !== '23505') throw err;
    }
    return {};
  },
};
