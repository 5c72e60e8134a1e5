import type { Migration } from 'kysely';
import * as journal0001 from './0001_journal.js';
import * as verifications0002 from './0002_verifications.js';

/**
 * Every migration of the journal, by name; names sort in the order they apply.
 * Imported statically so the compiled CLI needs no file-system lookup.
 * A released migration is never edited: changes go in a new numbered file.
 */
export const migrations: Record<string, Migration> = {
  '0001_journal': journal0001,
  '0002_verifications': verifications0002,
};

export { JOURNAL_SCHEMA } from './0001_journal.js';
