import type pg from 'pg';

/**
 * Whether connections made by `connect` share server sessions: a pooler in transaction or
 * statement mode (PgBouncer's `pool_mode = transaction`, RDS Proxy, Supavisor in
 * transaction mode) hands each transaction whichever server connection is free. A split
 * needs one session per connection: an exported snapshot shared by the copies, session
 * advisory locks, session settings for the load.
 *
 * Two connections are opened. In a session each keeps its backend: `b`, inside a
 * transaction, can never run on the backend `a` just used, and `a` keeps its backend and
 * its session settings while `b` holds one. A pooler that reuses the backend `a` just
 * released (PgBouncer does by default) shows at once; the session setting catches the rest.
 */
export async function sharesSessions(connect: () => Promise<pg.Client>): Promise<boolean> {
  const a = await connect();
  let b: pg.Client | undefined;
  try {
    b = await connect();
    const pid = async (c: pg.Client): Promise<number> => (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await a.query(`SELECT set_config('cloudphone_split.session_probe', 'kept', false)`);
    for (let round = 0; round < 3; round++) {
      const before = await pid(a);
      await b.query('BEGIN');
      try {
        const other = await pid(b);
        const after = await pid(a);
        const kept = (await a.query<{ v: string | null }>(`SELECT current_setting('cloudphone_split.session_probe', true) AS v`)).rows[0]!.v;
        if (other === before || after !== before || kept !== 'kept') return true;
      } finally {
        await b.query('COMMIT');
      }
    }
    return false;
  } catch (err) {
    // PgBouncer in statement mode refuses transaction blocks outright.
    if (/statement mode|transaction blocks not allowed/i.test((err as Error).message)) return true;
    throw err;
  } finally {
    await a.end().catch(() => undefined);
    await b?.end().catch(() => undefined);
  }
}

/** What to tell a user whose server connections go through such a pooler. */
export function poolerProblem(server: string, where: string): string {
  return (
    `server ${server} (${where}): connections go through a pooler in transaction or statement mode (PgBouncer pool_mode=transaction?): ` +
    'a split needs one server session per connection (one exported snapshot for every copy, session advisory locks, session settings). ' +
    'Connect to PostgreSQL directly, or through a pool with pool_mode=session'
  );
}
