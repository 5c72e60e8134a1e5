import { describe, expect, it } from 'vitest';
import { isMigrationHistory, legacyReason, migrationHistoryWarning, ownedMigrationHistoryWarning } from '../../../src/init/legacy-table.js';

/**
 * Penpot's `migrations` and Hydra's `schema_migration` were placed with one service: the
 * others started with no history, where an application that migrates on start may run
 * every migration again. Only an ignored history was warned of.
 */
describe('migration history in a plan', () => {
  it('owned by one service: names the services that start without one', () => {
    const w = ownedMigrationHistoryWarning([
      { name: 'clients', tables: ['public.schema_migration', 'public.hydra_client'] },
      { name: 'consent', tables: ['public.hydra_oauth2_flow'] },
      { name: 'tokens', tables: ['public.hydra_oauth2_access'] },
      { name: 'empty', tables: [] },
    ]);
    expect(w).toBe(
      'the migration history public.schema_migration (clients) moves with one service only: consent, tokens start with none in their new databases, ' +
        'where an application that runs its migrations when it starts may try to create its tables again; ' +
        'before they start there, load the history\'s rows (pg_dump --data-only -t public.schema_migration … | psql into each database), or make them not migrate on start',
    );
  });

  it('says nothing when every service with tables has its own, or there is one service', () => {
    expect(ownedMigrationHistoryWarning([{ name: 'web', tables: ['public.migrations', 'public.users'] }])).toBeNull();
    expect(ownedMigrationHistoryWarning([{ name: 'a', tables: ['a.schema_migrations', 'a.t'] }, { name: 'b', tables: ['b.schema_migrations', 'b.t'] }])).toBeNull();
    expect(ownedMigrationHistoryWarning([{ name: 'a', tables: ['public.users'] }, { name: 'b', tables: ['public.orders'] }])).toBeNull();
  });

  it("knows the histories of Diesel (Lemmy's __diesel_schema_migrations), SQLx, Refinery, Alembic, sql-migrate, Atlas, Doctrine and Phinx", () => {
    for (const [table, tool] of [['__diesel_schema_migrations', 'Diesel'], ['_sqlx_migrations', 'SQLx'], ['refinery_schema_history', 'Refinery'], ['alembic_version', 'Alembic'], ['gorp_migrations', 'sql-migrate'], ['atlas_schema_revisions', 'Atlas'], ['doctrine_migration_versions', 'Doctrine'], ['phinxlog', 'Phinx']]) {
      expect(isMigrationHistory(table!), table).toBe(true);
      expect(migrationHistoryWarning([`public.${table}`])).toContain(`ignored public.${table} (migration history) stays in the source`);
      expect(legacyReason(table!), tool).toBe(`${tool} migration history`);
    }
  });

  it('ignored: stays in the source (the warning there already)', () => {
    expect(migrationHistoryWarning(['public.users_old', 'public.users'])).toBeNull();
    expect(migrationHistoryWarning(['public.schema_migrations'])).toContain('ignored public.schema_migrations (migration history) stays in the source');
  });
});
