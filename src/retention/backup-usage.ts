import type { PgClient } from '../steps/handler.js';
import type { BackupUsage } from './retention-detail.js';

/** The OID and the table write counters of the database `client` is connected to. */
export async function readBackupUsage(client: PgClient): Promise<BackupUsage> {
  await client.query('SELECT pg_stat_clear_snapshot()');
  const r = await client.query<{ oid: string; writes: string; stats_reset: string | null }>(
    `SELECT d.oid::text AS oid,
            (SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::text FROM pg_stat_user_tables) AS writes,
            (SELECT stats_reset::text FROM pg_stat_database WHERE datid = d.oid) AS stats_reset
       FROM pg_database d WHERE d.datname = current_database()`,
  );
  const row = r.rows[0];
  if (!row) throw new Error('the connected database is missing from pg_database');
  const t = await client.query<{ oid: string; writes: string }>(`SELECT relid::text AS oid, (n_tup_ins + n_tup_upd + n_tup_del)::text AS writes FROM pg_stat_user_tables`);
  return { oid: Number(row.oid), writes: row.writes, statsReset: row.stats_reset, tables: Object.fromEntries(t.rows.map((x) => [x.oid, x.writes])) };
}

/** `schema.name` of each table of the connected database, by OID: how a refusal names the tables written to. */
export async function readTableNames(client: PgClient): Promise<Record<string, string>> {
  const r = await client.query<{ oid: string; name: string }>(`SELECT relid::text AS oid, schemaname || '.' || relname AS name FROM pg_stat_user_tables`);
  return Object.fromEntries(r.rows.map((x) => [x.oid, x.name]));
}

/** A client session connected to a database, as pg_stat_activity shows it. */
export interface Session {
  pid: number;
  user: string | null;
  application: string | null;
  client: string | null;
}

/** Client sessions connected to `database` other than the caller's own. */
export async function otherSessions(client: PgClient, database: string): Promise<Session[]> {
  const r = await client.query<{ pid: number; usename: string | null; application_name: string | null; client_addr: string | null }>(
    `SELECT pid, usename, application_name, host(client_addr) AS client_addr
       FROM pg_stat_activity
      WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'
      ORDER BY pid`,
    [database],
  );
  return r.rows.map((s) => ({ pid: s.pid, user: s.usename, application: s.application_name || null, client: s.client_addr }));
}

export function describeSession(s: Session): string {
  return [`pid ${s.pid}`, s.user ? `user ${s.user}` : '', s.application ? `application "${s.application}"` : '', s.client ? `from ${s.client}` : 'local']
    .filter(Boolean)
    .join(', ');
}

/** How the backup compares with what was recorded: a reason to refuse (also when the counters cannot be compared), or warnings only. */
export interface UsageCheck {
  refuse: string | null;
  warnings: string[];
}

export function compareUsage(database: string, then: BackupUsage, now: BackupUsage, names: Record<string, string> = {}): UsageCheck {
  if (then.oid !== now.oid) {
    return {
      refuse: `database ${database} is not the backup this split kept (OID ${then.oid} then, ${now.oid} now): it was dropped and created again`,
      warnings: [],
    };
  }
  if (then.statsReset !== now.statsReset) {
    return {
      refuse: `the statistics of ${database} were reset since it became a backup, so its write counters cannot tell whether it was written to since`,
      warnings: [],
    };
  }
  // With the counters of each table: the tables dropped since (another split's backup
  // pruned from this database) leave the comparison; a table created since counts whole.
  const kept = then.tables && now.tables ? Object.keys(now.tables) : null;
  const sum = (u: BackupUsage, keys: string[]) => keys.reduce((a, k) => a + BigInt(u.tables?.[k] ?? '0'), 0n);
  const before = kept ? sum(then, kept) : BigInt(then.writes);
  const after = kept ? sum(now, kept) : BigInt(now.writes);
  if (after > before) {
    const n = after - before;
    // Which tables: their counters (inserted, updated, deleted rows; an aborted insert counts too).
    const written = kept
      ? kept
          .map((k) => ({ k, d: BigInt(now.tables?.[k] ?? '0') - BigInt(then.tables?.[k] ?? '0') }))
          .filter((x) => x.d > 0n)
          .map((x) => {
            const name = names[x.k] ?? `the table of OID ${x.k}`;
            return then.tables?.[x.k] === undefined ? `${name} (created since, ${x.d})` : `${name} (${x.d})`;
          })
      : [];
    const named = written.length > 0 ? `: ${written.slice(0, 10).join(', ')}${written.length > 10 ? ` and ${written.length - 10} more` : ''}` : '';
    return {
      refuse: `${n} row${n === 1n ? ' was' : 's were'} written to ${database} since it became a read-only backup${named} ` +
        '(rows inserted, updated or deleted by statistics; a write that failed or was rolled back counts too)',
      warnings: [],
    };
  }
  if (after < before) {
    return {
      refuse: `the write counters of ${database} went down since it became a backup (statistics lost in a server crash?), so they cannot tell whether it was written to since`,
      warnings: [],
    };
  }
  return { refuse: null, warnings: [] };
}
