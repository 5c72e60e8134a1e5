import { sql, type Kysely } from 'kysely';
import { JOURNAL_SCHEMA } from './0001_journal.js';

/**
 * Every `verify` run of a split: when, whether checksums were compared, whether it
 * passed. A passing `--checksums` run after the backup was scheduled is what marks
 * the backup `verified` (what `retention prune` requires).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .withSchema(JOURNAL_SCHEMA)
    .createTable('verifications')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('split', 'text', (c) => c.notNull().references('splits.name').onDelete('cascade'))
    .addColumn('checksums', 'boolean', (c) => c.notNull())
    .addColumn('passed', 'boolean', (c) => c.notNull())
    .addColumn('checked_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('detail', 'jsonb')
    .execute();
  await db.schema.withSchema(JOURNAL_SCHEMA).createIndex('verifications_split').on('verifications').columns(['split', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.withSchema(JOURNAL_SCHEMA).dropTable('verifications').ifExists().execute();
}
