import type { PgClient } from '../steps/handler.js';
import { tableSums, type TableSum } from './table-sums.js';
import { readTableStates, readViewStates, type TableBackup, type ViewBackup } from './table-backup.js';

/**
 * The moved tables and views of a split as they are now in the source, before
 * `schedule_retention` marks them: OID, kind, moved parent, comment, and the count and
 * checksum of each table's own rows. A moved table that is missing is an error: the
 * fence was put on it earlier in the same apply.
 */
export async function readTableBackups(
  client: PgClient,
  tables: readonly string[],
  views: readonly string[],
  /** Sums already taken of some of these tables since the fence (by `verify_rowcounts`); the others are read here. */
  known: Readonly<Record<string, TableSum>> = {},
): Promise<{ tables: TableBackup[]; views: ViewBackup[] }> {
  const states = await readTableStates(client, tables);
  const missing = tables.filter((t) => !states.has(t));
  if (missing.length > 0) throw new Error(`moved table${missing.length === 1 ? '' : 's'} ${missing.join(', ')} no longer exist${missing.length === 1 ? 's' : ''} in the source: cannot keep ${missing.length === 1 ? 'it' : 'them'} as a backup`);
  const sums = { ...known, ...(await tableSums(client, tables.filter((t) => !known[t]))) };
  const out: TableBackup[] = [];
  for (const table of tables) {
    const s = states.get(table)!;
    const sum = sums[table];
    if (!sum) throw new Error(`could not read the rows of ${table} in the source`);
    out.push({
      table,
      oid: s.oid,
      relkind: s.relkind,
      parent: s.parent,
      priorComment: s.comment,
      rows: sum.rows,
      sum: sum.sum,
      method: sum.method ?? 'text',
      major: sum.major ?? 0,
    });
  }
  return { tables: out, views: await readViewStates(client, views) };
}
