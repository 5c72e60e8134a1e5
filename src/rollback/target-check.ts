import type pg from 'pg';
import { TRACK_SCHEMA, schemaIsOurs } from '../online/denormalize-tracking.js';
import type { Baseline, PlannedTable, TargetDatabase } from './rollback-inventory.js';
import { databaseOf } from '../pg/url.js';
import { PINNED_SETTINGS, checksumSql, rowHashExpr } from '../verify/checksum-sql.js';
import { MARKER_SCHEMA } from '../steps/marker.js';
import { readObjectSignature, signatureChanges } from './object-signature.js';

/** The table in which the steps mark themselves done (dropped by grant): not user data. */
const MARKER_TABLE = `${MARKER_SCHEMA}.done`;
import type { TableSum } from '../retention/table-sums.js';
import { SUM_METHODS, serverMajor, tableCountSql, tableSums, userTables } from '../retention/table-sums.js';
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

/** Count and text checksum of `table` on the given columns, in a pinned read-only transaction. */
async function textSum(client: pg.ClientBase, table: PlannedTable): Promise<{ rows: number; sum: string }> {
  const sql = checksumSql(table.source, rowHashExpr(table.columns.map((name) => ({ name, text: true })), 'text'));
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    for (const s of PINNED_SETTINGS) await client.query(s);
    const r = await client.query<{ n: string; h: string }>(sql);
    await client.query('COMMIT');
    return { rows: Number(r.rows[0]?.n ?? 0), sum: r.rows[0]?.h ?? '0' };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * A planned table with no baseline yet (verify_rowcounts has not run): its rows must
 * all come from the source, whose moved tables are fenced. A finished copy must equal
 * the source table (count and checksum on the source's columns); an unfinished one
 * (which a rerun of apply truncates and copies again) may not hold more rows than it.
 */
async function compareWithSource(source: pg.ClientBase, target: pg.ClientBase, t: PlannedTable, rows: number): Promise<string | null> {
  if (t.copied === null) {
    const n = Number((await source.query<{ rows: string }>(tableCountSql(t.table))).rows[0]?.rows ?? 0);
    return rows > n ? `${rows} rows, more than the ${n} of the source table its copy was reading` : null;
  }
  if (rows !== t.copied) return `${t.copied} rows copied, ${rows} now`;
  const [s, d] = [await textSum(source, t), await textSum(target, t)];
  if (s.rows !== d.rows || s.sum !== d.sum) return `not the rows the copy wrote: it differs from the source table (checksum)`;
  return null;
}

/**
 * Compares every database the split created or adopted (with or without tables) with
 * what the journal recorded after the copy: each copied table's row count and
 * checksum (verify_rowcounts'), or the source itself while no baseline exists yet;
 * a recorded table that is gone, any table the copy did not create, and large objects
 * (the copy makes none) count as changes too. A database that no longer exists has
 * nothing to lose and is skipped. `held`: a session already open in a database (the
 * drop's own, once every other session is ended), used instead of a new one.
 */
export async function changedTargets(
  servers: Record<string, string>,
  baselines: Baseline[],
  databases: TargetDatabase[] = [],
  held?: { server: string; database: string; client: pg.Client },
): Promise<{ changes: TargetChange[]; checked: number }> {
  const changes: TargetChange[] = [];
  let checked = 0;
  const byDatabase = group(baselines);
  const targets = [...databases];
  for (const list of byDatabase.values()) {
    const { server, database } = list[0]!;
    if (!targets.some((t) => t.server === server && t.database === database)) targets.push({ server, database, planned: [] });
  }
  let source: pg.Client | null = null;
  const sourceClient = async (): Promise<pg.Client> => {
    if (!servers.source) throw new Error('source.url is not set');
    source ??= await databaseClient(servers.source, databaseOf(servers.source));
    return source;
  };
  try {
    for (const target of targets) {
      const { server, database } = target;
      const list = byDatabase.get(`${server}\0${database}`) ?? [];
      const url = servers[server];
      if (!url) {
        changes.push({ server, database, table: '*', change: `the manifest has no server named "${server}" any more, so it cannot be checked` });
        continue;
      }
      const mine = held && held.server === server && held.database === database ? held.client : null;
      if (!mine && !(await exists(url, database))) continue;
      const client = mine ?? (await databaseClient(url, database, 'target'));
      try {
        // Each table is summed the way its baseline was (older journals: text), so the sums compare.
        const major = await serverMajor(client);
        const now: Record<string, TableSum> = {};
        for (const method of SUM_METHODS) {
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
        const lo = Number((await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_catalog.pg_largeobject_metadata`)).rows[0]?.n ?? 0);
        if (lo > 0) changes.push({ server, database, table: '*', change: `${lo} large object${lo === 1 ? '' : 's'} (lo_create, lo_import...), which the copy never makes` });
        if (target.objects) {
          for (const change of signatureChanges(target.objects, await readObjectSignature(client))) changes.push({ server, database, table: '*', change });
        }
        const known = new Set(list.map((b) => b.table));
        const planned = new Map(target.planned.map((t) => [t.table, t]));
        // An online cutover stopped after its fence keeps the tracking of denormalized columns (keys the
        // replication wrote, never a service's data): the tool's own when its schema carries the tool's comment.
        const tracking = (await schemaIsOurs(client)).ours;
        for (const table of await userTables(client, { toolSchema: true })) {
          if (known.has(table)) continue;
          if (tracking && table.startsWith(`${TRACK_SCHEMA}.`)) continue;
          const rows = Number((await client.query<{ rows: string }>(tableCountSql(table))).rows[0]?.rows ?? 0);
          const p = planned.get(table);
          if (p) {
            checked++;
            const why = await compareWithSource(await sourceClient(), client, p, rows);
            if (why) changes.push({ server, database, table, change: why });
          } else if (table !== MARKER_TABLE) {
            changes.push({ server, database, table, change: `a table the split did not create, holding ${rows} row${rows === 1 ? '' : 's'}` });
          }
        }
      } finally {
        if (!mine) await client.end().catch(() => undefined);
      }
    }
  } finally {
    await (source as pg.Client | null)?.end().catch(() => undefined);
  }
  return { changes, checked };
}
