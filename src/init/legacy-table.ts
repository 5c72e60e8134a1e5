/** Tables that ORMs and migration tools keep for themselves, by exact name (lowercased). */
const BOOKKEEPING: Record<string, string> = {
  typeorm_metadata: 'TypeORM bookkeeping',
  migrations: 'migration history',
  migrations_lock: 'migration history',
  schema_migrations: 'migration history',
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
};

const PATTERNS: ReadonlyArray<[RegExp, string]> = [
  [/^knex_/, 'Knex migration history'],
  [/^(legacy|old|deprecated|unused)_/, 'legacy-looking name'],
  [/_(old|bak|backup|legacy|deprecated)$/, 'legacy-looking name (a backup copy?)'],
  [/_(old|bak|backup)_?\d+$/, 'legacy-looking name (a backup copy?)'],
  [/^(tmp|temp)_|_(tmp|temp)$/, 'temporary-looking name'],
];

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
