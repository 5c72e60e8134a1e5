import type { Baseline } from './rollback-inventory.js';
import type { TableSum } from '../retention/table-sums.js';
import { serverMajor, tableCountSql, tableSums, userTables } from '../retention/table-sums.js';
import { databaseClient, maintenanceClient } from '../retention/maintenance-client.js';

/** A target table that is not as the copy left it. */
export interface TargetChange {
  server: string;
  database: string;
  table: string;
  /** What differs, e.g. "1500 rows after the copy, 1501 now". */
  change: string;
}

function group(baselines: Baseline[]): Map<string, Baseline[]> {
  const out = new Map<string, Baseline[]>();
  for (const b of baselines) {
    const key = `${b.server}\0${b.database}`;
    out.set(key, [...(out.get(key) ?? []), b]);
  }
  return out;
}

async function exists(serverUrl: string, database: string): Promise<boolean> {
  const admin = await maintenanceClient(serverUrl, [database]);
  try {
    return ((await admin.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [database])).rowCount ?? 0) > 0;
  } finally {
    await admin.end().catch(() => undefined);
  }
}

/**
 * Compares every target table with what the journal recorded after the copy: its
 * row count, and its checksum when schedule_retention took one. A recorded table
 * that is gone, and a table the copy did not create that now holds rows, count as
 * changes too. A database that no longer exists has nothing to lose and is skipped.
 */
export async function changedTargets(servers: Record<string, string>, baselines: Baseline[]): Promise<{ changes: TargetChange[]; checked: number }> {
  const changes: TargetChange[] = [];
  let checked = 0;
  for (const list of group(baselines).values()) {
    const { server, database } = list[0]!;
    const url = servers[server];
    if (!url) {
      changes.push({ server, database, table: '*', change: `the manifest has no server named "${server}" any more, so it cannot be checked` });
      continue;
    }
    if (!(await exists(url, database))) continue;
    const client = await databaseClient(url, database, 'target');
    try {
      // Each table is summed the way its baseline was (older journals: text), so the sums compare.
      const major = await serverMajor(client);
      const now: Record<string, TableSum> = {};
      for (const method of ['record', 'text'] as const) {
        const tables = list.filter((b) => (b.method ?? 'text') === method).map((b) => b.table);
        if (tables.length > 0) Object.assign(now, await tableSums(client, tables, method));
      }
      for (const b of list) {
        checked++;
        const n = now[b.table];
        if (!n) {
          changes.push({ server, database, table: b.table, change: 'the table is gone' });
        } else if (b.rows !== null && n.rows !== b.rows) {
          changes.push({ server, database, table: b.table, change: `${b.rows} rows after the copy, ${n.rows} now` });
        } else if (b.sumRows !== null && n.rows !== b.sumRows) {
          changes.push({ server, database, table: b.table, change: `${b.sumRows} rows when the split finished, ${n.rows} now` });
        } else if (b.sum !== null && b.major !== null && b.major !== major && n.rows > 0) {
          changes.push({
            server,
            database,
            table: b.table,
            change: `the server was upgraded from PostgreSQL ${b.major} to ${major} since the split, so its checksum cannot be compared; check the table by hand`,
          });
        } else if (b.sum !== null && n.sum !== b.sum) {
          changes.push({ server, database, table: b.table, change: 'same row count, but rows were changed (checksum differs)' });
        }
      }
      const known = new Set(list.map((b) => b.table));
      for (const table of await userTables(client)) {
        if (known.has(table)) continue;
        const r = await client.query<{ rows: string }>(tableCountSql(table));
        const rows = Number(r.rows[0]?.rows ?? 0);
        if (rows > 0) changes.push({ server, database, table, change: `a table the split did not create, holding ${rows} rows` });
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return { changes, checked };
}
