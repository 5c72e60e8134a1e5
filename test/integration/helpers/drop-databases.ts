import pg from 'pg';
import { query, withDatabase } from '../../harness/servers.js';

const q = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** A database of a test, on the server of `server` (a superuser URL). */
export interface TestDatabase {
  server: string;
  database: string;
}

/**
 * Drops the databases a test made, with the replication that would keep one alive: the
 * subscriptions inside each (a split's reverse replication lives in its source, which
 * `schedule_retention` may have made read-only, so they are dropped in a read-write
 * session) and the slots of each. A subscription left behind outlives its test: DROP
 * DATABASE refuses its database, and its apply worker restarts every
 * `wal_retrieve_retry_interval` against a publisher that is gone, for the rest of the run
 * (two server processes per restart; forty such subscriptions were half the servers' CPU).
 * Throws, naming them, when a database is still there afterwards.
 */
export async function dropTestDatabases(dbs: readonly TestDatabase[]): Promise<void> {
  const existing = await existingDatabases(dbs);
  for (const db of existing) await dropSubscriptions(withDatabase(db.server, db.database));
  const byServer = groupByServer(existing);
  for (const [server, names] of byServer) await dropSlots(server, names);
  const errors: string[] = [];
  // At once: each DROP DATABASE waits for a checkpoint, which drops running together share.
  await Promise.all(
    existing.map((db) =>
      query(db.server, `DROP DATABASE IF EXISTS ${q(db.database)} WITH (FORCE)`).catch((e: unknown) => {
        errors.push(`${db.database}: ${e instanceof Error ? e.message : String(e)}`);
      }),
    ),
  );
  const left = await existingDatabases(existing);
  if (left.length > 0) {
    throw new Error(`the test's databases could not be dropped: ${left.map((d) => d.database).join(', ')} (${errors.join('; ') || 'no error reported'})`);
  }
}

async function existingDatabases(dbs: readonly TestDatabase[]): Promise<TestDatabase[]> {
  const found: TestDatabase[] = [];
  for (const [server, names] of groupByServer(dbs)) {
    const rows = await query<{ datname: string }>(server, `SELECT datname FROM pg_database WHERE datname = ANY ($1::text[])`, [names]);
    const there = new Set(rows.map((r) => r.datname));
    for (const database of names) if (there.has(database)) found.push({ server, database });
  }
  return found;
}

function groupByServer(dbs: readonly TestDatabase[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const { server, database } of dbs) {
    const names = out.get(server) ?? [];
    if (!names.includes(database)) names.push(database);
    out.set(server, names);
  }
  return out;
}

async function dropSubscriptions(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  // The database may be gone already (dropped by the test itself): nothing to do then.
  if (!(await c.connect().then(() => true, () => false))) return;
  try {
    await c.query(`SET default_transaction_read_only = off`);
    const subs = await c.query<{ subname: string }>(`SELECT subname FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`);
    for (const { subname } of subs.rows) {
      await c.query(`ALTER SUBSCRIPTION ${q(subname)} DISABLE`);
      await c.query(`ALTER SUBSCRIPTION ${q(subname)} SET (slot_name = NONE)`);
      await c.query(`DROP SUBSCRIPTION ${q(subname)}`);
    }
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Logical slots of `databases` on `server`, their walsenders ended first. */
async function dropSlots(server: string, databases: readonly string[]): Promise<void> {
  const slots = await query<{ slot: string; pid: number | null }>(server, `SELECT slot_name::text AS slot, active_pid AS pid FROM pg_replication_slots WHERE database = ANY ($1::text[])`, [databases]);
  for (const { slot, pid } of slots) {
    if (pid !== null) await query(server, `SELECT pg_terminate_backend($1)`, [pid]);
    for (let i = 0; ; i++) {
      const error = await query(server, `SELECT pg_drop_replication_slot($1)`, [slot]).then(
        () => null,
        (e: unknown) => (e instanceof Error ? e.message : String(e)),
      );
      if (error === null || /does not exist/.test(error)) break;
      // A walsender ended just now releases its slot a moment later.
      if (i >= 50) throw new Error(`slot ${slot} could not be dropped: ${error}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
