import { hostname } from 'node:os';
import { sql, type Kysely } from 'kysely';
import type { Plan, Step } from '../plan/model.js';
import type { CreatedObject, StepJournal, StepResult } from '../steps/handler.js';
import { scrubber } from '../secrets/scrubber.js';
import { BadInputError } from '../errors.js';
import { openJournalDb } from './journal-db.js';
import { JOURNAL_SCHEMA } from '../../migrations/index.js';
import type { JournalDb, RetentionState, RunState } from './journal-schema.js';
import { planHash } from './plan-hash.js';
import { amendsPlan } from './plan-amends.js';
import { runChangedAnything } from './run-changes.js';
import { splitStatus, toCount, type SplitStatus } from './journal-status.js';
import * as records from './journal-records.js';
import type { RetentionRecord } from './journal-records.js';
import { splitRecords, type SplitRecord } from './journal-waves.js';

export type { SplitStatus, RunStatus, StepStatus } from './journal-status.js';
export type { RetentionRecord } from './journal-records.js';
export type { SplitRecord } from './journal-waves.js';
export type { RunState, StepState, RetentionState } from './journal-schema.js';

/** What `startRun` decided: a new run, or the resumption of the split's unfinished one. */
export interface RunStart {
  runId: number;
  resumed: boolean;
  planHash: string;
  /** The state the resumed run was left in (a `running` one was killed). */
  previousState?: RunState;
}

/** A step recorded done, with the run that did it. */
export interface DoneStep extends StepResult {
  runId: number;
}

/** Who is running: stored on the run so `status` and lock messages can name it. */
export interface Runner {
  pid: number;
  host: string;
}

/** A run ends in exactly one of these; `rolled_back` is set by `markRolledBack` only. */
export type FinalRunState = 'succeeded' | 'failed' | 'interrupted';

function count(n: number | undefined): number | null {
  return n === undefined || !Number.isFinite(n) ? null : Math.max(0, Math.round(n));
}

/**
 * The journal of every split kept in one control database (schema `cloudphone_split`).
 * Invariants (most enforced by SQL constraints):
 * - a split has at most one unfinished run, and it is its latest one; it is resumed
 *   only with a plan of the same hash (steps JSON), otherwise `startRun` refuses;
 * - every step of a run has a row from the start (pending), written `running` before
 *   its handler runs and `done`/`failed` after, so a crash leaves at worst a `running`
 *   row that the next run starts again;
 * - a step is done for a split when it is `done` in any of its runs with the same plan
 *   hash that was not rolled back.
 * Callers serialise writers of one split with `SplitLock`.
 */
export class Journal {
  private constructor(
    readonly controlUrl: string,
    private readonly db: Kysely<JournalDb>,
  ) {}

  /** Opens (creating and migrating if needed) the journal in the control database. */
  static async open(controlUrl: string, options: { applicationName?: string } = {}): Promise<Journal> {
    return new Journal(controlUrl, await openJournalDb(controlUrl, options));
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  /** Starts a run of `plan`, or resumes the split's last run when it is unfinished and has the same plan hash. */
  async startRun(name: string, plan: Pick<Plan, 'steps'>, runner: Runner = { pid: process.pid, host: hostname() }): Promise<RunStart> {
    const hash = planHash(plan);
    return this.db.transaction().execute(async (tx) => {
      await records.ensureSplit(tx, name);
      await tx.selectFrom('splits').select('name').where('name', '=', name).forUpdate().execute();
      const last = await tx
        .selectFrom('runs')
        .select(['id', 'state', 'plan_hash'])
        .where('split', '=', name)
        .where('state', '<>', 'rolled_back')
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst();
      // An unfinished run of a plan with a preflight that never passed changed nothing
      // (every step that changes something waits for it): a corrected plan starts a run of its own.
      const didSomething = last !== undefined && (await this.changedAnything(tx, last.id));
      if (last && last.state !== 'succeeded' && (didSomething || last.plan_hash === hash)) {
        if (last.plan_hash !== hash && !(await this.amends(tx, last.id, plan))) {
          throw new BadInputError(
            `refusing to resume with a different plan: run ${last.id} of split "${name}" is ${last.state} and was started from another plan`,
            'rerun `cloudphone-split apply` with the original plan file to finish it, or run `cloudphone-split rollback` to undo it before applying a new plan',
          );
        }
        await tx
          .updateTable('runs')
          .set({ state: 'running', finished_at: null, error: null, pid: runner.pid, host: runner.host, plan_hash: hash, plan: JSON.stringify(plan) })
          .where('id', '=', last.id)
          .execute();
        await this.insertSteps(tx, last.id, plan.steps);
        return { runId: last.id, resumed: true, planHash: hash, previousState: last.state };
      }
      const run = await tx
        .insertInto('runs')
        .values({ split: name, plan_hash: hash, plan: JSON.stringify(plan), state: 'running', pid: runner.pid, host: runner.host })
        .returning('id')
        .executeTakeFirstOrThrow();
      await this.insertSteps(tx, run.id, plan.steps);
      return { runId: run.id, resumed: false, planHash: hash };
    });
  }

  /**
   * Whether `plan` may take over the unfinished run `runId`: the two plans differ only in
   * `repoint_config` steps the run has not done (a plan made again after a config file
   * was refused for having changed). The run then resumes with `plan`.
   */
  private async amends(tx: Kysely<JournalDb>, runId: number, plan: Pick<Plan, 'steps'>): Promise<boolean> {
    const row = await tx.selectFrom('runs').select('plan').where('id', '=', runId).executeTakeFirstOrThrow();
    const old = (typeof row.plan === 'string' ? JSON.parse(row.plan) : row.plan) as Pick<Plan, 'steps'>;
    const done = new Set(
      (await tx.selectFrom('steps').select('step_id').where('run_id', '=', runId).where('state', '=', 'done').execute()).map((d) => d.step_id),
    );
    return amendsPlan(old, plan, done);
  }

  private async changedAnything(tx: Kysely<JournalDb>, runId: number): Promise<boolean> {
    return runChangedAnything(await tx.selectFrom('steps').select(['kind', 'state']).where('run_id', '=', runId).execute());
  }

  private async insertSteps(db: Kysely<JournalDb>, runId: number, steps: readonly Step[]): Promise<void> {
    for (let i = 0; i < steps.length; i += 500) {
      const values = steps.slice(i, i + 500).map((s, j) => ({
        run_id: runId,
        step_id: s.id,
        ordinal: i + j,
        kind: s.kind,
        service: s.service ?? null,
        table: s.table ?? null,
        state: 'pending' as const,
      }));
      if (values.length > 0) await db.insertInto('steps').values(values).onConflict((oc) => oc.columns(['run_id', 'step_id']).doNothing()).execute();
    }
  }

  async finishRun(runId: number, state: FinalRunState, error?: string): Promise<void> {
    await this.db
      .updateTable('runs')
      .set({ state, finished_at: sql<Date>`greatest(now(), started_at)`, error: error !== undefined ? scrubber.scrub(error) : state === 'failed' ? 'failed' : null })
      .where('id', '=', runId)
      .execute();
  }

  /** Written before a step's handler runs. */
  async stepStarted(runId: number, stepId: string): Promise<void> {
    const r = await this.db
      .updateTable('steps')
      .set({ state: 'running', started_at: sql<Date>`now()`, finished_at: null, error: null, rows: null, bytes: null, detail: null })
      .where('run_id', '=', runId)
      .where('step_id', '=', stepId)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) throw new Error(`step ${stepId} is not part of run ${runId}`);
  }

  /**
   * Written before a batch's handler runs: its steps `running`, in one statement. Not
   * waited for on disk (synchronous_commit off for this transaction only): a `running`
   * mark lost in a crash of the control server leaves the step pending, which the next
   * run starts again, as it does a `running` one.
   */
  async stepsStarted(runId: number, stepIds: readonly string[]): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await sql`SET LOCAL synchronous_commit = off`.execute(tx);
      const r = await tx
        .updateTable('steps')
        .set({ state: 'running', started_at: sql<Date>`now()`, finished_at: null, error: null, rows: null, bytes: null, detail: null })
        .where('run_id', '=', runId)
        .where('step_id', 'in', stepIds)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) !== new Set(stepIds).size) throw new Error(`steps ${stepIds.join(', ')} are not all part of run ${runId}`);
    });
  }

  /**
   * Written after a batch's handler returned: every step of it `done` with its result,
   * in one statement (one commit, durable like `stepDone`). Only call it once the
   * work of every step is committed where it acts.
   */
  async stepsDone(runId: number, done: ReadonlyArray<{ stepId: string; result: StepResult }>): Promise<void> {
    if (done.length === 0) return;
    const ids = done.map((d) => d.stepId);
    const rows = done.map((d) => count(d.result.rows));
    const bytes = done.map((d) => count(d.result.bytes));
    const details = done.map((d) => (d.result.detail === undefined ? null : JSON.stringify(d.result.detail)));
    await sql`
      UPDATE ${sql.id(JOURNAL_SCHEMA, 'steps')} AS s
         SET state = 'done',
             started_at = coalesce(s.started_at, now()),
             finished_at = greatest(now(), coalesce(s.started_at, now())),
             rows = v.rows, bytes = v.bytes, detail = v.detail::jsonb, error = NULL
        FROM unnest(${ids}::text[], ${rows}::bigint[], ${bytes}::bigint[], ${details}::text[]) AS v(step_id, rows, bytes, detail)
       WHERE s.run_id = ${runId} AND s.step_id = v.step_id`.execute(this.db);
  }

  /** Steps of a batch that were marked running but not run (the run stopped first): pending again. */
  async stepsPending(runId: number, stepIds: readonly string[]): Promise<void> {
    if (stepIds.length === 0) return;
    await this.db
      .updateTable('steps')
      .set({ state: 'pending', started_at: null, finished_at: null })
      .where('run_id', '=', runId)
      .where('step_id', 'in', stepIds)
      .where('state', '=', 'running')
      .execute();
  }

  /** A running step's rows and bytes so far (live progress); ignored once the step has ended. */
  async stepProgress(runId: number, stepId: string, rows: number, bytes: number): Promise<void> {
    await this.db
      .updateTable('steps')
      .set({ rows: count(rows), bytes: count(bytes) })
      .where('run_id', '=', runId)
      .where('step_id', '=', stepId)
      .where('state', '=', 'running')
      .execute();
  }

  /** Written after a step's handler returned. */
  async stepDone(runId: number, stepId: string, result: StepResult): Promise<void> {
    await this.db
      .updateTable('steps')
      .set({
        state: 'done',
        started_at: sql<Date>`coalesce(started_at, now())`,
        finished_at: sql<Date>`greatest(now(), coalesce(started_at, now()))`,
        rows: count(result.rows),
        bytes: count(result.bytes),
        detail: result.detail === undefined ? null : JSON.stringify(result.detail),
        error: null,
      })
      .where('run_id', '=', runId)
      .where('step_id', '=', stepId)
      .execute();
  }

  /** Steps not run in this run because the earlier run `doneInRun` of the same plan did them. */
  async stepsSkipped(runId: number, stepIds: readonly string[], doneInRun: number): Promise<void> {
    for (let i = 0; i < stepIds.length; i += 1000) {
      await this.db
        .updateTable('steps')
        .set({ state: 'skipped', finished_at: sql<Date>`now()`, error: null, detail: JSON.stringify({ doneInRun }) })
        .where('run_id', '=', runId)
        .where('step_id', 'in', stepIds.slice(i, i + 1000))
        .where('state', '<>', 'done')
        .execute();
    }
  }

  async stepFailed(runId: number, stepId: string, error: string): Promise<void> {
    await this.db
      .updateTable('steps')
      .set({
        state: 'failed',
        started_at: sql<Date>`coalesce(started_at, now())`,
        finished_at: sql<Date>`greatest(now(), coalesce(started_at, now()))`,
        error: scrubber.scrub(error) || 'failed',
      })
      .where('run_id', '=', runId)
      .where('step_id', '=', stepId)
      .execute();
  }

  /** The plan of the split's latest run that was not rolled back: what `verify` compares. */
  async lastPlan(name: string): Promise<Plan | undefined> {
    const r = await this.db
      .selectFrom('runs')
      .select('plan')
      .where('split', '=', name)
      .where('state', '<>', 'rolled_back')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (!r) return undefined;
    // jsonb comes back parsed (or as text, depending on the driver's type parsers).
    return (typeof r.plan === 'string' ? JSON.parse(r.plan) : r.plan) as Plan;
  }

  /** When `rollback` last marked the split's runs rolled back; null when it never did. */
  async rolledBackAt(name: string): Promise<Date | null> {
    const r = await this.db
      .selectFrom('runs')
      .select(sql<Date | null>`max(finished_at)`.as('at'))
      .where('split', '=', name)
      .where('state', '=', 'rolled_back')
      .executeTakeFirst();
    return r?.at ? new Date(r.at) : null;
  }

  /** The other splits of this journal (waves), each with its latest run not rolled back; oldest first. */
  splits(exclude: string | null = null): Promise<SplitRecord[]> {
    return splitRecords(this.db, exclude);
  }

  /** Hash of the split's latest run that was not rolled back, if any. */
  async lastPlanHash(name: string): Promise<string | undefined> {
    const r = await this.db
      .selectFrom('runs')
      .select('plan_hash')
      .where('split', '=', name)
      .where('state', '<>', 'rolled_back')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return r?.plan_hash;
  }

  /** Steps done in any run of this split with the plan hash (default: the latest run's). */
  async doneSteps(name: string, hash?: string): Promise<Map<string, DoneStep>> {
    const h = hash ?? (await this.lastPlanHash(name));
    const done = new Map<string, DoneStep>();
    if (h === undefined) return done;
    const rows = await this.db
      .selectFrom('steps')
      .innerJoin('runs', 'runs.id', 'steps.run_id')
      .select(['steps.step_id', 'steps.run_id', 'steps.rows', 'steps.bytes', 'steps.detail'])
      .where('runs.split', '=', name)
      .where('runs.plan_hash', '=', h)
      .where('runs.state', '<>', 'rolled_back')
      .where('steps.state', '=', 'done')
      .orderBy('steps.run_id', 'asc')
      .execute();
    for (const r of rows) {
      const step: DoneStep = { runId: r.run_id };
      const rowsDone = toCount(r.rows);
      const bytes = toCount(r.bytes);
      if (rowsDone !== undefined) step.rows = rowsDone;
      if (bytes !== undefined) step.bytes = bytes;
      if (r.detail !== null) step.detail = r.detail as Record<string, unknown>;
      done.set(r.step_id, step); // later runs win
    }
    return done;
  }

  /**
   * The recorded result of a done step of this split (latest run wins, as in doneSteps),
   * or undefined. Reads that one step: the last steps of a split of a thousand tables ask
   * for a few results each, and reading every done step's detail each time cost seconds.
   */
  async result(name: string, stepId: string, hash?: string): Promise<StepResult | undefined> {
    const h = hash ?? (await this.lastPlanHash(name));
    if (h === undefined) return undefined;
    const r = await this.db
      .selectFrom('steps')
      .innerJoin('runs', 'runs.id', 'steps.run_id')
      .select(['steps.rows', 'steps.bytes', 'steps.detail'])
      .where('runs.split', '=', name)
      .where('runs.plan_hash', '=', h)
      .where('runs.state', '<>', 'rolled_back')
      .where('steps.state', '=', 'done')
      .where('steps.step_id', '=', stepId)
      .orderBy('steps.run_id', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (!r) return undefined;
    const result: StepResult = {};
    const rowsDone = toCount(r.rows);
    const bytes = toCount(r.bytes);
    if (rowsDone !== undefined) result.rows = rowsDone;
    if (bytes !== undefined) result.bytes = bytes;
    if (r.detail !== null) result.detail = r.detail as Record<string, unknown>;
    return result;
  }

  recordCreated(name: string, object: CreatedObject): Promise<void> {
    return records.recordCreated(this.db, name, object);
  }

  created(name: string): Promise<CreatedObject[]> {
    return records.listCreated(this.db, name);
  }

  /** Removes a created object's record once rollback has dropped it. */
  forgetCreated(name: string, object: Pick<CreatedObject, 'kind' | 'server' | 'name'>): Promise<void> {
    return records.forgetCreated(this.db, name, object);
  }

  /** The journal as a step sees it: bound to one split and plan hash. */
  view(name: string, hash?: string): StepJournal {
    return {
      result: (stepId) => this.result(name, stepId, hash),
      results: async () => new Map([...(await this.doneSteps(name, hash))].map(([id, { runId: _runId, ...result }]) => [id, result])),
      recordCreated: (object) => this.recordCreated(name, object),
      forgetCreated: (object) => this.forgetCreated(name, object),
      created: () => this.created(name),
      retention: () => this.retention(name),
      scheduleRetention: async (entry) => {
        await this.scheduleRetention(name, { ...entry, detail: entry.detail ?? undefined });
      },
      updateRetention: async (server, database, patch) => {
        const row = (await this.retention(name)).find((r) => r.server === server && r.database === database);
        if (!row) return false;
        await this.updateRetention(row.id, patch);
        return true;
      },
      controlDatabase: () => this.controlDatabase(),
    };
  }

  /** The control database itself: its name and its cluster's system identifier (null when unreadable). */
  async controlDatabase(): Promise<{ database: string; systemIdentifier: string | null }> {
    const r = await sql<{ db: string }>`SELECT current_database() AS db`.execute(this.db);
    let id: string | null = null;
    try {
      id = (await sql<{ id: string }>`SELECT system_identifier::text AS id FROM pg_control_system()`.execute(this.db)).rows[0]?.id ?? null;
    } catch {
      id = null;
    }
    return { database: r.rows[0]!.db, systemIdentifier: id };
  }

  /** `status --json` (SPEC §2): runs newest first, steps in plan order. */
  status(name: string, options: { limit?: number } = {}): Promise<SplitStatus> {
    return splitStatus(this.db, name, options.limit);
  }

  /**
   * After `rollback`: every run of the split is marked rolled back, so the next apply
   * starts from scratch (its steps are no longer done) whatever plan it uses.
   */
  /**
   * Makes steps of the split not done again (`rollback --service` undid what they did):
   * in every run that is not rolled back, a done or skipped row of those ids becomes
   * pending, so the next apply runs them again. Returns how many rows changed.
   */
  async undoSteps(name: string, stepIds: string[]): Promise<number> {
    if (stepIds.length === 0) return 0;
    const r = await this.db
      .updateTable('steps')
      .set({ state: 'pending', finished_at: null, error: null })
      .where('step_id', 'in', stepIds)
      .where('state', 'in', ['done', 'skipped'])
      .where('run_id', 'in', (eb) => eb.selectFrom('runs').select('id').where('split', '=', name).where('state', '<>', 'rolled_back'))
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  async markRolledBack(name: string): Promise<void> {
    await this.db
      .updateTable('runs')
      .set({ state: 'rolled_back', finished_at: sql<Date>`coalesce(finished_at, greatest(now(), started_at))` })
      .where('split', '=', name)
      .execute();
  }

  scheduleRetention(
    name: string,
    r: { server: string; database: string; expiresAt: Date; verified?: boolean; detail?: Record<string, unknown> },
  ): Promise<RetentionRecord> {
    return records.scheduleRetention(this.db, name, r);
  }

  retention(name?: string): Promise<RetentionRecord[]> {
    return records.listRetention(this.db, name);
  }

  updateRetention(
    id: number,
    patch: { state?: RetentionState; verified?: boolean; expiresAt?: Date; detail?: Record<string, unknown> | null },
  ): Promise<RetentionRecord | undefined> {
    return records.updateRetention(this.db, id, patch);
  }

  deleteRetention(id: number): Promise<boolean> {
    return records.deleteRetention(this.db, id);
  }

  /**
   * Records a `verify` run of the split. A passing `--checksums` run marks the split's
   * scheduled backups verified: only then may `retention prune` drop them. A failing run
   * leaves the mark as it is: once the services write to their databases every later run
   * differs from the backup, which proves nothing against the copy a passing run checked
   * (taking the mark away made such a backup impossible to prune).
   */
  recordVerification(name: string, v: { checksums: boolean; passed: boolean; detail?: Record<string, unknown> }): Promise<void> {
    return this.db.transaction().execute(async (tx) => {
      await records.ensureSplit(tx, name);
      await tx
        .insertInto('verifications')
        .values({ split: name, checksums: v.checksums, passed: v.passed, detail: v.detail === undefined ? null : records.json(v.detail) })
        .execute();
      if (v.checksums && v.passed) {
        await tx.updateTable('retention').set({ verified: true, updated_at: new Date() }).where('split', '=', name).where('state', '=', 'scheduled').execute();
      }
    });
  }

  getFact<T = unknown>(name: string, key: string): Promise<T | undefined> {
    return records.getFact(this.db, name, key) as Promise<T | undefined>;
  }

  setFact(name: string, key: string, value: unknown): Promise<void> {
    return records.setFact(this.db, name, key, value);
  }

  deleteFact(name: string, key: string): Promise<void> {
    return records.deleteFact(this.db, name, key);
  }
}
