import type pg from 'pg';
import { parseKey } from '../catalog/model.js';
import type { Plan, TargetRef } from '../plan/model.js';
import type { Pools } from '../pg/pools.js';
import { ident, qname } from '../pg/quote.js';
import { pause } from './pause.js';
import { withClient } from './pooled.js';

/**
 * The first write a service's new database accepts, as the service would make it: in
 * its database, as its role (SET ROLE, when the manifest gives one), an INSERT into one
 * of its moved tables of the rows of `SELECT ... WHERE false`, rolled back. The
 * statement takes the locks and checks of a real write (privileges, a read-only
 * database or transaction, statement triggers such as a fence, locks held by others)
 * and leaves nothing: no row, no sequence value, no trace once rolled back.
 */
export interface WriteProbe {
  /** When the database accepted the write (ISO 8601), or null when it never did within the wait. */
  acceptedAt: string | null;
  table: string | null;
  role: string | null;
  /** Why the last attempt failed (null when it succeeded). */
  error: string | null;
}

/** How long the probe keeps trying, while it cannot connect, before it reports the database as not accepting writes. */
export const PROBE_WAIT_MS = 10_000;

/** Errors worth another try: the connection failed, or the server is starting. Others (a privilege, a read-only database) are reported at once. */
function transient(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code !== 'string' || /^08/.test(code) || code === '57P03' || code === '53300' || /^E[A-Z]+$/.test(code);
}

/** A lock held on the table longer than this makes the probe fail (reported, not waited for). */
const PROBE_LOCK_TIMEOUT = '10s';

/** The statements of one probe, as the plan shows them. */
export function probeSql(table: string, columns: readonly string[], role: string | null): string[] {
  const t = qname(parseKey(table));
  const cols = columns.map(ident).join(', ');
  return [
    'BEGIN',
    `SET LOCAL lock_timeout = '${PROBE_LOCK_TIMEOUT}'`,
    // As the service's sessions are: its policies apply (the tool's own sessions turn row-level security off).
    ...(role ? ['SET LOCAL row_security = on', `SET LOCAL ROLE ${ident(role)}`] : []),
    `INSERT INTO ${t} (${cols}) SELECT ${cols} FROM ${t} WHERE false`,
    'ROLLBACK',
  ];
}

/** The columns an INSERT may name: not generated, not GENERATED ALWAYS AS IDENTITY. */
async function insertableColumns(c: pg.ClientBase, table: string): Promise<string[]> {
  const r = await c.query<{ name: string }>(
    `SELECT attname::text AS name FROM pg_attribute
      WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped AND attgenerated = '' AND attidentity <> 'a' ORDER BY attnum`,
    [qname(parseKey(table))],
  );
  return r.rows.map((x) => x.name);
}

async function attempt(pools: Pools, target: TargetRef, table: string, role: string | null): Promise<void> {
  await withClient(pools, target.server, target.database, async (c) => {
    const columns = await insertableColumns(c, table);
    if (columns.length === 0) throw new Error(`${table} has no column an INSERT may name`);
    const sql = probeSql(table, columns, role);
    try {
      for (const s of sql.slice(0, -1)) await c.query(s);
    } finally {
      await c.query('ROLLBACK').catch(() => undefined);
    }
  });
}

/** Probes the service's new database until it accepts a write (at most `waitMs`). */
export async function probeWrite(pools: Pools, plan: Plan, target: TargetRef, service: string, signal?: AbortSignal, waitMs = PROBE_WAIT_MS): Promise<WriteProbe> {
  const spec = plan.services.find((s) => s.name === service);
  const table = spec?.tables[0]?.name ?? null;
  const role = spec?.role ?? null;
  if (!table) return { acceptedAt: null, table, role, error: 'the service moves no table' };
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      await attempt(pools, target, table, role);
      return { acceptedAt: new Date().toISOString(), table, role, error: null };
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      if (!transient(err) || Date.now() > until || signal?.aborted) return { acceptedAt: null, table, role, error };
      await pause(200, signal);
    }
  }
}
