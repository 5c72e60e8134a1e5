import type { BenchClusters } from './bench-clusters.js';
import type { Dataset } from './dataset.js';
import type { CpuUse } from './cpu.js';
import type { TablePhases } from './table-phases.js';

/** What every contender gets: the running clusters, the data, and its own scratch folder. */
export interface BenchContext {
  clusters: BenchClusters;
  dataset: Dataset;
  /** Parallel streams for every tool (the same for all). */
  jobs: number;
  /** A fresh folder for this contender's files (dumps, manifests). */
  workDir: string;
  /** The repository root (bin/cloudphone-split.js is there). */
  repoRoot: string;
  log(message: string): void;
}

/**
 * Wall-clock milliseconds. Phases are windows of the run, so for a tool that
 * overlaps them (copies and index builds at once) they may add up to more than
 * `total`; null when the tool cannot report the phase separately.
 */
export interface Phases {
  schema: number | null;
  data: number | null;
  indexes: number | null;
  total: number;
}

export interface ContenderOutcome {
  phases: Phases;
  /** Peak RSS of the tool's own process (the CLI), when measured. */
  peakRssKb: number | null;
  notes: string[];
  /**
   * The machine's CPU over the copy (both servers, the tools): set by a contender that
   * runs more than the copy (apply's verify), else measured over its whole run.
   */
  cpu?: CpuUse | null;
  /** `verify --checksums` after the copy (our tool only), with the machine's CPU over it. */
  verify?: { ms: number; ok: boolean; peakRssKb: number | null; cpu?: CpuUse | null };
  /** The journal's step times (our tool only): per step kind, and each copy of the largest table. */
  steps?: StepTimes;
  /** Where each table's time went (our tool only): the journal's step times and the copy relay's waits. */
  tables?: TablePhases[];
}

/** Milliseconds from the journal. */
export interface StepTimes {
  /** Per kind: how many steps, the sum of their durations, and their window (first start to last end). */
  kinds: Array<{ kind: string; count: number; sumMs: number; windowMs: number }>;
  /** Each copy_data step of the largest table (several when copied in ranges), with its rows and format. */
  largest: Array<{ step: string; ms: number; rows: number | null; binary: boolean | null }>;
}

/** One way of moving the tables of every service into its own target database. */
export interface Contender {
  /** a, b, c, d, e: as `--only` names them. */
  key: string;
  name: string;
  /** Why it cannot run here (a missing program), or null. */
  unavailable(): Promise<string | null>;
  /** Work before the clock starts (e.g. a fresh copy of the source the tool may fence). */
  prepare?(ctx: BenchContext): Promise<void>;
  run(ctx: BenchContext): Promise<ContenderOutcome>;
  /** Target databases besides the services' (dropped before each run). */
  extraDatabases?: string[];
}

/** Times an async function in milliseconds. */
export async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Moved tables, largest first, with the database each goes to. */
export function copyQueue(ds: Dataset): Array<{ table: string; database: string; bytes: number }> {
  return ds.services
    .flatMap((s) => s.tables.map((table) => ({ table, database: s.database, bytes: ds.tableBytes[table] ?? 0 })))
    .sort((a, b) => b.bytes - a.bytes || a.table.localeCompare(b.table));
}
