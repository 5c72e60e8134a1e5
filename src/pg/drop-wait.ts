import type pg from 'pg';

/** When a drop that still runs is first described, then how often again. */
export const DROP_WAIT_FIRST_MS = 5_000;
export const DROP_WAIT_EVERY_MS = 10_000;

/**
 * What the session `pid` (running a DROP DATABASE) waits for, as one line: its wait
 * event, the sessions that block it, and the sessions of the server still starting
 * (authenticating). PostgreSQL 15+ makes a DROP DATABASE wait until every session of the
 * server has absorbed a signal barrier, which a session still in authentication does
 * not do: a client that went quiet mid-handshake holds every drop until
 * authentication_timeout ends it.
 */
export async function describeDropWait(monitor: pg.Client, pid: number, name: string, waitedMs: number): Promise<string> {
  const r = await monitor.query<{
    waiting: string | null;
    blockers: number[] | null;
    starting: Array<{ pid: number; client: string | null; seconds: number }>;
    timeout: string;
    version: number;
  }>(
    `SELECT nullif(concat_ws('/', a.wait_event_type, a.wait_event), '') AS waiting,
            pg_blocking_pids(a.pid) AS blockers,
            (SELECT coalesce(json_agg(json_build_object('pid', s.pid, 'client', host(s.client_addr),
                                                        'seconds', floor(extract(epoch FROM now() - s.backend_start)))
                                      ORDER BY s.backend_start), '[]'::json)
               FROM pg_stat_activity s
              WHERE s.backend_type = 'client backend' AND s.pid <> a.pid AND s.state = 'starting') AS starting,
            current_setting('authentication_timeout') AS timeout,
            current_setting('server_version_num')::int AS version
       FROM pg_stat_activity a WHERE a.pid = $1`,
    [pid],
  );
  const row = r.rows[0];
  const head = `DROP DATABASE ${name} has waited ${Math.round(waitedMs / 1000)} s`;
  if (!row) return `${head}`;
  const parts = [row.waiting ? `(wait event ${row.waiting})` : ''];
  if (row.blockers && row.blockers.length > 0) parts.push(`behind session${row.blockers.length === 1 ? '' : 's'} ${row.blockers.join(', ')}`);
  if (row.starting.length > 0) {
    const list = row.starting.map((s) => `pid ${s.pid}${s.client ? ` from ${s.client}` : ''}, ${s.seconds} s`).join('; ');
    parts.push(
      `; ${row.starting.length} session${row.starting.length === 1 ? ' is' : 's are'} still authenticating on this server (${list}): ` +
        `PostgreSQL makes the drop wait for ${row.starting.length === 1 ? 'it' : 'them'}, and ends such a session after authentication_timeout (${row.timeout})`,
    );
  }
  // Before 18, a session still authenticating is not in pg_stat_activity: only the wait event tells.
  if (row.starting.length === 0 && (row.blockers ?? []).length === 0 && row.waiting === 'IPC/ProcSignalBarrier' && row.version < 180000) {
    parts.push(
      `; nothing blocks it, so it likely waits for a session still authenticating on this server (a client that went quiet mid-handshake), ` +
        `which PostgreSQL before 18 does not list in pg_stat_activity: PostgreSQL ends such a session after authentication_timeout (${row.timeout})`,
    );
  }
  return `${head} ${parts.filter(Boolean).join(' ')}`.replace(/ ;/, ';').trim();
}

/**
 * Runs `sql` (a DROP DATABASE of `name`) on `admin`; while it has not ended after
 * DROP_WAIT_FIRST_MS, and every DROP_WAIT_EVERY_MS after, tells `notify` what it waits
 * for, read on a second session that `openMonitor` gives (opened only then). The drop
 * itself is not changed or cancelled: waiting is its normal, safe behaviour.
 */
export async function watchedDrop(
  admin: pg.Client,
  sql: string,
  name: string,
  notify: ((message: string) => void) | undefined,
  openMonitor: () => Promise<pg.Client>,
  timing: { firstMs: number; everyMs: number } = { firstMs: DROP_WAIT_FIRST_MS, everyMs: DROP_WAIT_EVERY_MS },
): Promise<void> {
  if (!notify) {
    await admin.query(sql);
    return;
  }
  const pid = (await admin.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  const started = Date.now();
  let monitor: pg.Client | null = null;
  let timer: NodeJS.Timeout | undefined;
  let looking: Promise<void> = Promise.resolve();
  let ended = false;
  const look = async (): Promise<void> => {
    try {
      monitor ??= await openMonitor();
      const line = await describeDropWait(monitor, pid, name, Date.now() - started);
      if (!ended) notify(line);
    } catch {
      // Only a description: the drop goes on whether or not it can be described.
    }
    if (!ended) timer = setTimeout(() => (looking = look()), timing.everyMs);
  };
  timer = setTimeout(() => (looking = look()), timing.firstMs);
  try {
    await admin.query(sql);
  } finally {
    ended = true;
    clearTimeout(timer);
    await looking;
    await (monitor as pg.Client | null)?.end().catch(() => undefined);
  }
}
