import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnCli, type CliResult, type SpawnedCli } from './cli.js';
import type { SplitFixture } from './split-fixture.js';

/** One step of the split's latest run, as the journal shows it. */
export interface JournalStep {
  state: string;
  startedAt: Date | null;
}

/**
 * Watches a split while a spawned apply runs: the journal in the control database
 * and the target servers' activity, on connections of its own.
 */
export class SplitWatch {
  private journalExists = false;

  private constructor(
    private readonly fx: SplitFixture,
    private readonly control: pg.Client,
  ) {}

  static async open(fx: SplitFixture): Promise<SplitWatch> {
    const c = new pg.Client({ connectionString: fx.controlUrl });
    await c.connect();
    return new SplitWatch(fx, c);
  }

  async close(): Promise<void> {
    await this.control.end();
  }

  /** The control server's clock (steps started after it are started by the run that follows). */
  async now(): Promise<Date> {
    return (await this.control.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0]!.now;
  }

  /** Steps of the split's latest run (empty before the journal exists). */
  async steps(): Promise<Map<string, JournalStep>> {
    const exists = await this.control.query(`SELECT to_regclass('cloudphone_split.steps') IS NOT NULL AS ok`);
    if (!exists.rows[0]?.ok) return new Map();
    const r = await this.control.query<{ step_id: string; state: string; started_at: Date | null }>(
      `SELECT s.step_id, s.state, s.started_at FROM cloudphone_split.steps s
        WHERE s.run_id = (SELECT max(id) FROM cloudphone_split.runs WHERE split = $1)`,
      [this.fx.name],
    );
    return new Map(r.rows.map((row) => [row.step_id, { state: row.state, startedAt: row.started_at }]));
  }

  /** Whether `stepId` was started at or after `since` and is still running. */
  async running(stepId: string | ((id: string) => boolean), since: Date): Promise<string | undefined> {
    const match = typeof stepId === 'string' ? (id: string) => id === stepId : stepId;
    for (const [id, s] of await this.steps()) {
      if (match(id) && s.state === 'running' && s.startedAt !== null && s.startedAt >= since) return id;
    }
    return undefined;
  }

  /** Which of `stepIds` the split's latest run shows running, started at or after `since`. */
  async runningAmong(stepIds: string[], since: Date): Promise<string[]> {
    if (!this.journalExists) {
      const exists = await this.control.query(`SELECT to_regclass('cloudphone_split.steps') IS NOT NULL AS ok`);
      if (!exists.rows[0]?.ok) return [];
      this.journalExists = true;
    }
    const r = await this.control.query<{ step_id: string }>(
      `SELECT s.step_id FROM cloudphone_split.steps s
        WHERE s.run_id = (SELECT max(id) FROM cloudphone_split.runs WHERE split = $1)
          AND s.state = 'running' AND s.started_at >= $2 AND s.step_id = ANY ($3::text[])`,
      [this.fx.name, since, stepIds],
    );
    return r.rows.map((row) => row.step_id);
  }

  /**
   * Locks the journal row of `stepId` (FOR UPDATE) while the step runs, so that the
   * executor's "done" for it waits: a kill then lands after the step's own work and
   * before the journal heard of it. Null when the step is no longer running.
   */
  async holdStepRow(stepId: string): Promise<HeldRow | null> {
    const c = new pg.Client({ connectionString: this.fx.controlUrl });
    c.on('error', () => undefined);
    await c.connect();
    try {
      await c.query('BEGIN');
      const r = await c.query(
        `SELECT s.state FROM cloudphone_split.steps s
          WHERE s.run_id = (SELECT max(id) FROM cloudphone_split.runs WHERE split = $1) AND s.step_id = $2 AND s.state = 'running'
          FOR UPDATE NOWAIT`,
        [this.fx.name, stepId],
      );
      if (r.rowCount === 1) return new HeldRow(stepId, c, this.fx.controlUrl);
    } catch {
      // The executor is writing the row right now (NOWAIT): too late for this step.
    }
    await c.end().catch(() => undefined);
    return null;
  }

  /** Whether a session of the tool waits for a lock in the control database (the journal row we hold). */
  async journalWriteWaiting(): Promise<boolean> {
    const r = await this.control.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name LIKE 'cloudphone-split%' AND wait_event_type = 'Lock'`,
    );
    return r.rows[0]!.n > 0;
  }

  /** Whether a backend of the tool on `serverUrl` waits for a lock (a step held up by a test's lock). */
  async waitingOnLock(serverUrl: string, database: string): Promise<boolean> {
    const r = await queryOnce<{ n: number }>(
      serverUrl,
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = $1 AND application_name LIKE 'cloudphone-split%' AND wait_event_type = 'Lock'`,
      [database],
    );
    return r[0]!.n > 0;
  }

  /** Rows the COPY into `table` (`schema.name`) of the database at `url` has stored so far (0 when none runs). */
  async copyProgress(url: string, table: string): Promise<number> {
    const dot = table.indexOf('.');
    const r = await queryOnce<{ n: string }>(
      url,
      `SELECT coalesce(max(tuples_processed), 0)::text AS n FROM pg_stat_progress_copy
        WHERE datid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND command = 'COPY FROM'
          AND relid = to_regclass(format('%I.%I', $1::text, $2::text))`,
      [table.slice(0, dot), table.slice(dot + 1)],
    );
    return Number(r[0]!.n);
  }
}

/**
 * Rows the COPY into `table` (`schema.name`) of the database at `url` has stored so far
 * (0 when none runs), asked on one connection kept for the whole kill condition: opened
 * at the first question (the database exists once the copy step runs).
 */
export class CopyProgress {
  private client: pg.Client | undefined;

  constructor(
    private readonly url: string,
    private readonly table: string,
  ) {}

  async rows(): Promise<number> {
    if (!this.client) {
      const c = new pg.Client({ connectionString: this.url });
      c.on('error', () => undefined);
      await c.connect();
      this.client = c;
    }
    const dot = this.table.indexOf('.');
    const r = await this.client.query<{ n: string }>(
      `SELECT coalesce(max(tuples_processed), 0)::text AS n FROM pg_stat_progress_copy
        WHERE datid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND command = 'COPY FROM'
          AND relid = to_regclass(format('%I.%I', $1::text, $2::text))`,
      [this.table.slice(0, dot), this.table.slice(dot + 1)],
    );
    return Number(r.rows[0]!.n);
  }

  async close(): Promise<void> {
    await this.client?.end().catch(() => undefined);
  }
}

/** A journal row held by the test (see SplitWatch.holdStepRow). */
export class HeldRow {
  constructor(
    readonly stepId: string,
    private readonly client: pg.Client,
    private readonly controlUrl: string,
  ) {}

  /**
   * Ends the sessions of the (killed) tool that wait for the row, so that their write
   * never lands, then lets the row go.
   */
  async release(): Promise<void> {
    await queryOnce(
      this.controlUrl,
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND application_name LIKE 'cloudphone-split%' AND wait_event_type = 'Lock'`,
      [],
    );
    await this.client.query('ROLLBACK').catch(() => undefined);
    await this.client.end().catch(() => undefined);
  }
}

async function queryOnce<R extends pg.QueryResultRow>(url: string, sql: string, params: unknown[]): Promise<R[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<R>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

/** How a spawned apply ended: killed when the condition held, or on its own. */
export interface KillOutcome {
  killed: boolean;
  /** Steps the journal shows running right after the kill (the run died inside them). */
  runningAtKill: string[];
  /** Set when the apply ended by itself. */
  result?: CliResult;
}

/**
 * Spawns `apply <plan> --yes --jobs 2` (or `args`, with `env`) and kills it with SIGKILL as soon as `when`
 * returns true (polled every few milliseconds), then waits until every session of the
 * dead process has left the servers (its advisory lock is free again).
 */
export async function applyAndKill(
  fx: SplitFixture,
  watch: SplitWatch,
  when: (since: Date, elapsedMs: number) => Promise<boolean>,
  opts: {
    timeoutMs?: number;
    afterKill?: () => Promise<void>;
    /** Pause between two checks of `when` (default 5 ms), or a function of the moment that returns it. */
    pollMs?: number | (() => number);
    args?: string[];
    env?: NodeJS.ProcessEnv;
    /** Starts the CLI with these arguments instead of spawnCli (a process started ahead, see warm-cli.ts). */
    spawn?: (args: string[]) => SpawnedCli;
  } = {},
): Promise<KillOutcome> {
  const since = await watch.now();
  const t0 = Date.now();
  const args = opts.args ?? ['apply', fx.planFile, '--yes', '--jobs', '2'];
  const cli = opts.spawn ? opts.spawn(args) : spawnCli(args, opts.env ?? fx.env);
  let exited = false;
  void cli.done.then(() => (exited = true));
  const deadline = t0 + (opts.timeoutMs ?? 60_000);
  while (!exited) {
    if (Date.now() > deadline) {
      const running = [...(await watch.steps())].filter(([, st]) => st.state === 'running').map(([id]) => id);
      const activity = await sessionsOf(fx);
      cli.child.kill('SIGKILL');
      await cli.done;
      await opts.afterKill?.();
      throw new Error(
        `the kill condition never held in ${Date.now() - t0} ms; steps running: ${running.join(', ') || 'none'}\n` +
          `sessions of the tool: ${JSON.stringify(activity, null, 1)}\napply output:\n${cli.output().stderr}\n${cli.output().stdout}`,
      );
    }
    if (await when(since, Date.now() - t0)) {
      cli.child.kill('SIGKILL');
      const end = await cli.done;
      if (end.signal !== 'SIGKILL') return { killed: false, runningAtKill: [], result: end };
      await opts.afterKill?.();
      await waitForSessionsToEnd(fx);
      const running = [...(await watch.steps())].filter(([, s]) => s.state === 'running').map(([id]) => id);
      return { killed: true, runningAtKill: running };
    }
    const pause = typeof opts.pollMs === 'function' ? opts.pollMs() : (opts.pollMs ?? 5);
    if (pause > 0) await sleep(pause);
  }
  await opts.afterKill?.();
  return { killed: false, runningAtKill: [], result: await cli.done };
}

/** What the tool's sessions on the fixture's servers are doing (for failure messages). */
export async function sessionsOf(fx: SplitFixture): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const url of new Set([fx.sourceServer, ...fx.services.map((s) => s.serverUrl)])) {
    out.push(
      ...(await queryOnce(
        url,
        `SELECT datname, state, wait_event_type, wait_event, now() - query_start AS for, left(query, 120) AS query
           FROM pg_stat_activity WHERE application_name LIKE 'cloudphone-split%' AND datname LIKE $1`,
        [`${fx.prefix}%`],
      )),
    );
  }
  return out;
}

/** Waits until no session of the tool is connected to the fixture's databases (a killed process's backends exit). */
export async function waitForSessionsToEnd(fx: SplitFixture, timeoutMs = 30_000): Promise<void> {
  const databases = [fx.sourceDb, fx.controlUrl.split('/').pop()!, ...fx.services.map((s) => s.database)];
  const serverUrls = [...new Set([fx.sourceServer, ...fx.services.map((s) => s.serverUrl)])];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let n = 0;
    for (const url of serverUrls) {
      const r = await queryOnce<{ n: number }>(
        url,
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'cloudphone-split%' AND datname = ANY ($1)`,
        [databases.map(decodeURIComponent)],
      );
      n += r[0]!.n;
    }
    if (n === 0) return;
    if (Date.now() > deadline) throw new Error(`${n} sessions of a killed apply are still connected after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/**
 * A session that holds a lock in a transaction until released: makes a step that
 * needs a conflicting lock wait, so that a kill lands inside it.
 */
export async function holdLock(url: string, statement: string): Promise<{ release(): Promise<void> }> {
  const c = new pg.Client({ connectionString: url });
  // A cleanup that drops the database WITH (FORCE) ends this session: not an error of the test.
  c.on('error', () => undefined);
  await c.connect();
  await c.query('BEGIN');
  await c.query(statement);
  return {
    async release() {
      await c.query('ROLLBACK').catch(() => undefined);
      await c.end();
    },
  };
}
