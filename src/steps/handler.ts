import type pg from 'pg';
import type { Plan, StepKind, StepOf } from '../plan/model.js';
import type { Pools } from '../pg/pools.js';

/** What a step reports when it finishes; stored in the journal. */
export interface StepResult {
  rows?: number;
  bytes?: number;
  /** Small JSON detail kept in the journal (source counts, checksums, file hashes...). */
  detail?: Record<string, unknown>;
}

/** Progress events: the CLI renders them as bars, log lines or JSON lines. */
export type ProgressEvent =
  | { type: 'step-start'; stepId: string; kind: StepKind; service?: string; table?: string; description: string }
  | { type: 'step-progress'; stepId: string; rows: number; bytes: number; rowsEstimate?: number; bytesEstimate?: number }
  | { type: 'step-done'; stepId: string; ms: number; rows?: number; bytes?: number; skipped?: boolean }
  | { type: 'step-failed'; stepId: string; error: string }
  | { type: 'log'; level: 'info' | 'warn'; message: string };

export interface ProgressSink {
  emit(event: ProgressEvent): void;
}

/**
 * Everything a step may touch while it runs. Handlers get connections from `pools`
 * (server names as in the plan: "source" or a manifest server), never build URLs.
 */
export interface StepContext {
  plan: Plan;
  pools: Pools;
  /** Environment used to expand `${VAR}` (passwords). */
  env: NodeJS.ProcessEnv;
  /** The journal's view for this run: results of earlier steps, and key/value facts. */
  journal: StepJournal;
  /** The exported snapshot of the source all copy steps read from (taken lazily, once per run). */
  snapshot(): Promise<string>;
  progress: ProgressSink;
  signal: AbortSignal;
  /** Folder of the manifest: config file paths are relative to it. */
  baseDir: string;
  now(): Date;
  /**
   * `max_parallel_maintenance_workers` for index builds (`--index-workers`); undefined:
   * the target server's own setting.
   */
  indexWorkers?: number;
  /** How long `catch_up` waits for the subscriptions (`cutover --catch-up-timeout`); undefined: 120 s. */
  catchUpTimeoutMs?: number;
  /**
   * Tables (`schema.name`) whose source rows `copy_back` may replace even though they were
   * written behind the fence since cutover (`rollback --discard-source-writes`); default none.
   */
  discardSourceWrites?: ReadonlySet<string>;
}

export interface StepJournal {
  /** Result recorded for a step that is done in this split (any run), or undefined. */
  result(stepId: string): Promise<StepResult | undefined>;
  /** Every step done in this split with its result, read at once (optional: only the engine's journal). */
  results?(): Promise<Map<string, StepResult>>;
  /** Records something the split created (database, role, fence...), for rollback. */
  recordCreated(object: CreatedObject): Promise<void>;
  /** Forgets a recorded object that was not created after all (optional: only the engine's journal). */
  forgetCreated?(object: Pick<CreatedObject, 'kind' | 'server' | 'name'>): Promise<void>;
  created(): Promise<CreatedObject[]>;
  /** The split's backups (retention rows), in any state. Optional: only the engine's journal keeps them. */
  retention?(): Promise<RetentionEntry[]>;
  /** Schedules (or reschedules) a backup: one row per (split, server, database), state back to `scheduled`. */
  scheduleRetention?(entry: Omit<RetentionEntry, 'state'>): Promise<void>;
  /**
   * Changes the split's backup row of (server, database): its state (`restored` once the
   * old database is in use again) and/or its detail. Optional: only the engine's journal
   * keeps them. Returns false when there is no such row.
   */
  updateRetention?(server: string, database: string, patch: { state?: 'restored'; detail?: Record<string, unknown> }): Promise<boolean>;
  /** Where the journal lives (optional: only the engine's journal knows): never a target. */
  controlDatabase?(): Promise<{ database: string; systemIdentifier: string | null }>;
}

/**
 * A backup kept after a split (the journal's retention row, as steps see it).
 * `verified` is set by a `verify --checksums` run that passed after the backup was
 * scheduled (schedule_retention writes false); `retention prune` drops only verified,
 * expired, `scheduled` backups.
 */
export interface RetentionEntry {
  server: string;
  database: string;
  expiresAt: Date;
  state: 'scheduled' | 'pruned' | 'restored';
  verified: boolean;
  detail: Record<string, unknown> | null;
}

export interface CreatedObject {
  /** `config`: a repointed config file; `detail` is its ConfigBackup (src/config/backup.ts). */
  kind: 'database' | 'role' | 'fence' | 'publication' | 'subscription' | 'slot' | 'retention' | 'config';
  server: string;
  name: string;
  detail?: Record<string, unknown>;
}

/**
 * One handler per step kind (one file each in src/steps/). `render` is pure: it is
 * what `--dry-run` prints. `run` must be idempotent: the executor may run it again
 * after a crash at any instant.
 */
export interface StepHandler<K extends StepKind> {
  render(step: StepOf<K>): string[];
  run(ctx: StepContext, step: StepOf<K>): Promise<StepResult>;
  /** Optional: how several small ready steps of this kind run as one (see StepBatch). */
  batch?: StepBatch<K>;
}

/**
 * Many small steps of one kind run together: one connection, one transaction where
 * they act, one journal write. The executor gathers ready steps that `accepts` takes
 * and that share a `key` (their target database), at most `max`, marks them running
 * together and, once `run` returned, done together. `run` is all or nothing as far as
 * the journal knows: it returns one result per step, in order, only when every step's
 * work is committed; when it throws, the executor runs each step of the batch alone
 * with the handler's `run`, which must finish whatever the batch left (the same
 * idempotence a rerun after a crash needs).
 */
export interface StepBatch<K extends StepKind> {
  max: number;
  accepts(step: StepOf<K>, plan: Plan): boolean;
  key(step: StepOf<K>): string;
  run(ctx: StepContext, steps: StepOf<K>[]): Promise<StepResult[]>;
}

export type StepHandlers = { [K in StepKind]: StepHandler<K> };

export type PgClient = pg.ClientBase;
