/** Tables that ORMs and migration tools keep for themselves, by exact name (lowercased). */
const BOOKKEEPING: Record<string, string> = {
  typeorm_metadata: 'TypeORM bookkeeping',
  migrations: 'migration history',
  migrations_lock: 'migration history',
  schema_migrations: 'migration history',
  schema_version: 'migration history',
  schema_migration: 'migration history (pop, Ory)',
  ar_internal_metadata: 'Rails bookkeeping',
  flyway_schema_history: 'Flyway migration history',
  databasechangelog: 'Liquibase migration history',
  databasechangeloglock: 'Liquibase migration history',
  django_migrations: 'Django migration history',
  sequelizemeta: 'Sequelize migration history',
  _prisma_migrations: 'Prisma migration history',
  __efmigrationshistory: 'Entity Framework migration history',
  goose_db_version: 'goose migration history',
  pgmigrations: 'node-pg-migrate migration history',
  kysely_migration: 'Kysely migration history',
  kysely_migration_lock: 'Kysely migration history',
  mikro_orm_migrations: 'MikroORM migration history',
  __diesel_schema_migrations: 'Diesel migration history',
  _sqlx_migrations: 'SQLx migration history',
  refinery_schema_history: 'Refinery migration history',
  alembic_version: 'Alembic migration history',
  gorp_migrations: 'sql-migrate migration history',
  atlas_schema_revisions: 'Atlas migration history',
  doctrine_migration_versions: 'Doctrine migration history',
  phinxlog: 'Phinx migration history',
};

const PATTERNS: ReadonlyArray<[RegExp, string]> = [
  [/^knex_/, 'Knex migration history'],
  [/^(legacy|old|deprecated|unused)_/, 'legacy-looking name'],
  [/_(old|bak|backup|legacy|deprecated)$/, 'legacy-looking name (a backup copy?)'],
  [/_(old|bak|backup)_?\d+$/, 'legacy-looking name (a backup copy?)'],
  [/^(tmp|temp)_|_(tmp|temp)$/, 'temporary-looking name'],
];

/** Whether a table is, by its name, a migration tool's or ORM's own history. */
export function isMigrationHistory(name: string): boolean {
  const why = BOOKKEEPING[name.toLowerCase()] ?? (/^knex_/.test(name.toLowerCase()) ? 'Knex migration history' : null);
  return why !== null && /migration history|bookkeeping/.test(why);
}

/**
 * The plan's warning for ignored tables that are migration history: they stay in the source,
 * and a service that migrates when it starts finds none in its new database. Null: none.
 */
export function migrationHistoryWarning(ignored: readonly string[]): string | null {
  const history = ignored.filter((k) => isMigrationHistory(k.slice(k.indexOf('.') + 1)));
  if (history.length === 0) return null;
  const one = history.length === 1;
  return (
    `ignored ${history.join(', ')} (migration history) ${one ? 'stays' : 'stay'} in the source, and no new database gets ${one ? 'it' : 'them'}: ` +
    'a service that runs its migrations when it starts finds no history in its new database and may try to create its tables again; ' +
    `before it starts there, load the rows its tables need (pg_dump --data-only -t ${history[0]} … | psql into its database), or list ${one ? 'it' : 'them'} under that service`
  );
}

/**
 * A migration history owned by one service while other services get databases of their
 * own: those start with no history (Penpot's `migrations`, Hydra's `schema_migration`),
 * and an application that migrates when it starts may run every migration there again.
 */
export function ownedMigrationHistoryWarning(services: ReadonlyArray<{ name: string; tables: readonly string[] }>): string | null {
  const owners = services.flatMap((s) => s.tables.filter((k) => isMigrationHistory(k.slice(k.indexOf('.') + 1))).map((table) => ({ table, service: s.name })));
  if (owners.length === 0) return null;
  const others = services.filter((s) => s.tables.length > 0 && !owners.some((o) => o.service === s.name)).map((s) => s.name);
  if (others.length === 0) return null;
  const tables = owners.map((o) => `${o.table} (${o.service})`).join(', ');
  return (
    `the migration history ${tables} moves with ${owners.length === 1 ? 'one service' : 'its services'} only: ${others.join(', ')} start${others.length === 1 ? 's' : ''} with none in ${others.length === 1 ? 'its' : 'their'} new database${others.length === 1 ? '' : 's'}, ` +
    'where an application that runs its migrations when it starts may try to create its tables again; ' +
    `before ${others.length === 1 ? 'it starts' : 'they start'} there, load the history's rows (pg_dump --data-only -t ${owners[0]!.table} … | psql into each database), or make ${others.length === 1 ? 'it' : 'them'} not migrate on start`
  );
}

/**
 * Why a table looks like bookkeeping or leftovers that no service owns
 * (migration history, backups, temporary tables), or null. Matching ignores case.
 */
export function legacyReason(name: string): string | null {
  const lower = name.toLowerCase();
  const exact = BOOKKEEPING[lower];
  if (exact) return exact;
  for (const [re, why] of PATTERNS) if (re.test(lower)) return why;
  return null;
}
