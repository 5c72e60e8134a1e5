import type { Journal, RetentionRecord } from '../engine/journal.js';
import { serverCopiedRows, serverCopyOf } from '../server-copy/source-rows.js';
import type { Plan, RepointConfigStep } from '../plan/model.js';
import type { CreatedObject } from '../steps/handler.js';
import { configBackupsFromCreated } from '../config/restore.js';
import type { ConfigBackup } from '../config/backup.js';
import { readRetentionDetail } from '../retention/retention-detail.js';
import { readSum, type SumMethod, type TableSum } from '../retention/table-sums.js';
import type { QualifiedName } from '../catalog/model.js';
import type { StepResult } from '../steps/handler.js';
import { copiedTables } from '../verify/plan-tables.js';

/** One target table as it was after the copy: what rollback compares the table with now. */
export interface Baseline {
  server: string;
  database: string;
  table: string;
  /** Rows verify_rowcounts counted right after the copy (null: not recorded). */
  rows: number | null;
  /** Checksum and count verify_rowcounts took after the copy (older journals: schedule_retention's; null: none recorded). */
  sum: string | null;
  sumRows: number | null;
  /** How the checksum was taken (null: not recorded, a `text` sum) and on which server major. */
  method: SumMethod | null;
  major: number | null;
}

/**
 * Everything the journal says a split created or changed, as rollback undoes it.
 * Invariant: only objects recorded in the journal appear here; a database recorded
 * as adopted (it existed before, empty) is never dropped.
 */
export interface RollbackInventory {
  split: string;
  /** The plan of the split's latest run that was not rolled back. */
  plan: Plan | undefined;
  databases: CreatedObject[];
  adopted: CreatedObject[];
  roles: CreatedObject[];
  fence: CreatedObject | undefined;
  config: CreatedObject[];
  configBackups: ConfigBackup[];
  /** The source's backup row, when schedule_retention recorded one. */
  retention: RetentionRecord | undefined;
  /** What the database looked like before schedule_retention changed it (a retiring split only). */
  prior: { acl: string | null; comment: string | null; readOnly: string | null; written: string | null } | null;
  /** The moved tables schedule_retention commented (a split without retire): their comments before, and the one written. */
  tableMarks: { tables: Array<{ table: string; priorComment: string | null }>; written: string } | null;
  /** Created objects of kinds rollback does not handle (online mode): reported, left alone. */
  other: CreatedObject[];
  /** repoint_config ran (a step done, or a file recorded as repointed). */
  repointed: boolean;
  baselines: Baseline[];
  /** Every database the split created or adopted, with or without tables: what rollback checks before it drops. */
  targets: TargetDatabase[];
  /** Repoint steps that are done and have a restart command, for after the config is restored. */
  restarts: Array<{ service: string; command: string }>;
}

/** A table the plan copies into a target database. */
export interface PlannedTable {
  table: string;
  source: QualifiedName;
  /** The source's copied columns. */
  columns: string[];
  /** Rows its copy_data steps read from the snapshot; null while a copy step is not done. */
  copied: number | null;
}

/** A database the split created or adopted, and the tables its copy put there. */
export interface TargetDatabase {
  server: string;
  database: string;
  planned: PlannedTable[];
  /** Its objects besides rows, as verify_rowcounts recorded them after the copy (readObjectSignature); absent in older journals. */
  objects?: string[];
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function copiedRows(plan: Plan, done: Map<string, StepResult>, database: string, table: string): number | null {
  const steps = plan.steps.filter((s) => s.kind === 'copy_data' && s.table === table && s.target.database === database);
  const pulled = serverCopyOf(plan, database, table);
  if (steps.length === 0 && pulled) return serverCopiedRows(done.get(pulled.id), table) ?? null;
  let total = 0;
  for (const s of steps) {
    const r = done.get(s.id);
    if (!r) return null;
    const n = Number(r.detail?.sourceRows ?? r.rows ?? NaN);
    if (Number.isNaN(n)) return null;
    total += n;
  }
  return steps.length > 0 ? total : null;
}

export async function readInventory(journal: Journal, split: string): Promise<RollbackInventory> {
  const created = await journal.created(split);
  const plan = await journal.lastPlan(split);
  const done = await journal.doneSteps(split);
  const retentionRows = await journal.retention(split);
  const source = plan?.source.database;
  const retention = retentionRows.find((r) => r.server === 'source' && (source === undefined || r.database === source) && r.state !== 'restored');

  const legacy = created.find((o) => o.kind === 'retention');
  let prior: RollbackInventory['prior'] = null;
  let tableMarks: RollbackInventory['tableMarks'] = null;
  const scheduled = retention?.state === 'scheduled' ? readRetentionDetail(retention.detail) : null;
  if (scheduled && !scheduled.retire) {
    tableMarks = { tables: scheduled.tables.map((t) => ({ table: t.table, priorComment: t.priorComment })), written: scheduled.comment };
  } else if (retention?.state === 'scheduled' && retention.detail) {
    const d = retention.detail;
    prior = { acl: str(d.priorAcl), comment: str(d.priorComment), readOnly: str(d.priorReadOnly), written: str(d.comment) };
  } else if (legacy?.detail) {
    prior = { acl: str(legacy.detail.priorAcl), comment: str(legacy.detail.priorComment), readOnly: null, written: null };
  }

  const repointSteps = (plan?.steps ?? []).filter((s): s is RepointConfigStep => s.kind === 'repoint_config');
  const repointDone = repointSteps.filter((s) => done.has(s.id));
  const config = created.filter((o) => o.kind === 'config');

  const baselines = new Map<string, Baseline>();
  const baseline = (server: string, database: string, table: string): Baseline => {
    const key = `${server}\0${database}\0${table}`;
    let b = baselines.get(key);
    if (!b) {
      b = { server, database, table, rows: null, sum: null, sumRows: null, method: null, major: null };
      baselines.set(key, b);
    }
    return b;
  };
  for (const s of plan?.steps ?? []) {
    if (s.kind !== 'verify_rowcounts') continue;
    const detail = done.get(s.id)?.detail;
    const counts = (detail?.counts ?? {}) as Record<string, unknown>;
    const sums = (detail?.sums ?? {}) as Record<string, unknown>;
    for (const table of s.tables) {
      const rows = counts[table];
      if (typeof rows === 'number') baseline(s.target.server, s.target.database, table).rows = rows;
      // The checksum verify_rowcounts took right after the copy: what an UPDATE since changes.
      const sum = readSum(sums[table]);
      if (sum) {
        const b = baseline(s.target.server, s.target.database, table);
        b.sum = sum.sum;
        b.sumRows = sum.rows;
        b.method = sum.method ?? null;
        b.major = sum.major ?? null;
      }
    }
  }
  for (const t of scheduled?.targets ?? []) {
    const b = baseline(t.server, t.database, t.table);
    b.rows ??= t.copiedRows;
    if (b.sum !== null) continue;
    b.sum = t.sum;
    b.sumRows = t.rows;
    b.method = t.method ?? null;
    b.major = t.major ?? null;
  }

  const databases = created.filter((o) => o.kind === 'database');
  const signatures = new Map<string, string[]>();
  for (const s of plan?.steps ?? []) {
    const objects = s.kind === 'verify_rowcounts' ? done.get(s.id)?.detail?.objects : undefined;
    if (s.kind === 'verify_rowcounts' && Array.isArray(objects) && objects.every((x) => typeof x === 'string')) {
      signatures.set(`${s.target.server}\0${s.target.database}`, objects as string[]);
    }
  }
  const targets: TargetDatabase[] = databases.map((o) => ({
    server: o.server,
    database: o.name,
    ...(signatures.has(`${o.server}\0${o.name}`) ? { objects: signatures.get(`${o.server}\0${o.name}`)! } : {}),
    planned: plan ? copiedTables(plan).filter((t) => t.target.server === o.server && t.target.database === o.name).map((t) => ({
      table: t.table,
      source: t.source,
      columns: t.columns,
      copied: copiedRows(plan, done, o.name, t.table),
    })) : [],
  }));

  return {
    split,
    plan,
    targets,
    databases: created.filter((o) => o.kind === 'database' && o.detail?.adopted !== true),
    adopted: created.filter((o) => o.kind === 'database' && o.detail?.adopted === true),
    roles: created.filter((o) => o.kind === 'role'),
    fence: created.find((o) => o.kind === 'fence'),
    config,
    configBackups: configBackupsFromCreated(created),
    retention,
    prior,
    tableMarks,
    other: created.filter((o) => o.kind === 'publication' || o.kind === 'subscription' || o.kind === 'slot'),
    repointed: repointDone.length > 0 || config.length > 0,
    baselines: [...baselines.values()],
    restarts: repointDone.flatMap((s) => (s.restart ? [{ service: s.service ?? s.target.service, command: s.restart }] : [])),
  };
}

/** True when the journal holds nothing left to undo. */
export function isEmpty(inv: RollbackInventory): boolean {
  return (
    inv.databases.length === 0 &&
    inv.adopted.length === 0 &&
    inv.roles.length === 0 &&
    !inv.fence &&
    inv.config.length === 0 &&
    (inv.retention === undefined || inv.retention.state !== 'scheduled') &&
    inv.prior === null &&
    inv.tableMarks === null
  );
}
