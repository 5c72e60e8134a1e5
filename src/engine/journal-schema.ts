import type { ColumnType, Generated } from 'kysely';

/**
 * Row types of the journal tables (migrations/0001_journal.ts, 0002_verifications.ts), as kysely sees them.
 * jsonb columns are written as JSON text (node-pg would turn arrays into PostgreSQL
 * arrays) and read back parsed; bigint columns read back as decimal strings.
 */
type Json = ColumnType<unknown, string, string>;
type JsonOrNull = ColumnType<unknown, string | null | undefined, string | null>;
type BigintOrNull = ColumnType<string | null, number | null | undefined, number | null>;
type Timestamp = ColumnType<Date, Date | undefined, Date>;
type TimestampOrNull = ColumnType<Date | null, Date | null | undefined, Date | null>;

export type RunState = 'running' | 'succeeded' | 'failed' | 'interrupted' | 'rolled_back';
export type StepState = 'pending' | 'running' | 'done' | 'failed' | 'skipped';
export type RetentionState = 'scheduled' | 'pruned' | 'restored';

export interface SplitsTable {
  name: string;
  created_at: Generated<Date>;
}

export interface RunsTable {
  id: Generated<number>;
  split: string;
  plan_hash: string;
  plan: Json;
  state: RunState;
  started_at: Timestamp;
  finished_at: TimestampOrNull;
  error: string | null;
  pid: number | null;
  host: string | null;
}

export interface StepsTable {
  run_id: number;
  step_id: string;
  ordinal: number;
  kind: string;
  service: string | null;
  table: string | null;
  state: StepState;
  started_at: TimestampOrNull;
  finished_at: TimestampOrNull;
  rows: BigintOrNull;
  bytes: BigintOrNull;
  error: string | null;
  detail: JsonOrNull;
}

export interface CreatedObjectsTable {
  split: string;
  kind: string;
  server: string;
  name: string;
  detail: JsonOrNull;
  created_at: Timestamp;
}

export interface RetentionTable {
  id: Generated<number>;
  split: string;
  server: string;
  database: string;
  expires_at: Date;
  state: ColumnType<RetentionState, RetentionState | undefined, RetentionState>;
  verified: ColumnType<boolean, boolean | undefined, boolean>;
  detail: JsonOrNull;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface FactsTable {
  split: string;
  key: string;
  value: Json;
  updated_at: Timestamp;
}

export interface VerificationsTable {
  id: Generated<number>;
  split: string;
  checksums: boolean;
  passed: boolean;
  checked_at: Timestamp;
  detail: JsonOrNull;
}

/** The tables of the `cloudphone_split` schema (queries run with that schema). */
export interface JournalDb {
  splits: SplitsTable;
  runs: RunsTable;
  steps: StepsTable;
  created_objects: CreatedObjectsTable;
  retention: RetentionTable;
  facts: FactsTable;
  verifications: VerificationsTable;
}
