import pg from 'pg';
import type { Journal } from './journal.js';
import { nodePgConfig } from '../conn/node-pg.js';
import { connectError } from '../pg/errors.js';

/**
 * The journal, when the control database exists; null otherwise (nothing was ever
 * applied there). Looking never creates the control database.
 */
export async function openJournalIfExists(controlUrl: string): Promise<Journal | null> {
  const probe = new pg.Client(nodePgConfig(controlUrl, { application_name: 'cloudphone-split', connectionTimeoutMillis: 30_000 }));
  probe.on('error', () => undefined);
  try {
    await probe.connect();
  } catch (err) {
    if ((err as { code?: string }).code === '3D000') return null;
    throw connectError(err, controlUrl, 'control');
  } finally {
    await probe.end().catch(() => undefined);
  }
  // The journal's query builder is loaded only when there is a journal to read.
  const { Journal: OpenedJournal } = await import('./journal.js');
  return OpenedJournal.open(controlUrl);
}
