import { isSumMethod, type TableSum } from './table-sums.js';
import { readTableBackup, readViewBackup, type TableBackup, type ViewBackup } from './table-backup.js';

/** One target table as `schedule_retention` found it: what `rollback` compares with. */
export interface TargetBaseline extends TableSum {
  server: string;
  database: string;
  table: string;
  /** Rows `verify_rowcounts` counted right after the copy (null when it did not record them). */
  copiedRows: number | null;
}

/**
 * What the backup looked like when it was scheduled, for `retention prune` to
 * check that it is still the same, unused database: its OID (a database dropped
 * and created again under the same name has another) and the write counters of
 * its tables (`n_tup_ins + n_tup_upd + n_tup_del` of pg_stat_user_tables).
 */
export interface BackupUsage {
  oid: number;
  writes: string;
  /** pg_stat_database.stats_reset: when it changes, the counters cannot be compared. */
  statsReset: string | null;
  /**
   * The write counter of each table, by OID (absent in details recorded before it
   * existed): lets a later check leave out the tables dropped since (other splits' backups
   * pruned from the same database), whose counters leave the total with them.
   */
  tables?: Record<string, string>;
}

/**
 * The journal's detail of a retention row, written by `schedule_retention`.
 * Invariant: the `prior*` fields hold the database as it was before the first
 * scheduling of this backup (a resumed or repeated step keeps them), so that
 * `rollback` can put it back.
 */
export interface RetentionDetail {
  days: number;
  /**
   * source.retire: the whole database is the backup (read-only, commented). False:
   * only `tables` (and the moved `views`) are, each commented with `comment`; the
   * database's ACL, setting and comment were not changed (`prior*` stay null).
   * Journals written before it existed hold true.
   */
  retire: boolean;
  /** The source's server when the step ran (null: the role could not read it). */
  systemIdentifier: string | null;
  /** The moved tables kept in place (a split without retire; [] otherwise). */
  tables: TableBackup[];
  /** The views that moved with them (they depend on them, so prune drops them first). */
  views: ViewBackup[];
  /** pg_database.datacl as text before the REVOKE (null: the default ACL). */
  priorAcl: string | null;
  priorComment: string | null;
  /** The database's own default_transaction_read_only setting before (null: none). */
  priorReadOnly: string | null;
  /** The comment the step wrote (on the database, or on each table): `prune` drops only while it is still there. */
  comment: string;
  usage: BackupUsage;
  targets: TargetBaseline[];
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function tableWrites(v: unknown): { tables?: Record<string, string> } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
  const entries = Object.entries(v as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string');
  return { tables: Object.fromEntries(entries) };
}
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function readTarget(v: unknown): TargetBaseline | null {
  if (typeof v !== 'object' || v === null) return null;
  const r = v as Record<string, unknown>;
  const server = str(r.server);
  const database = str(r.database);
  const table = str(r.table);
  const rows = num(r.rows);
  const sum = str(r.sum);
  if (server === null || database === null || table === null || rows === null || sum === null) return null;
  const method = isSumMethod(r.method) ? r.method : undefined;
  const major = num(r.major) ?? undefined;
  return { server, database, table, rows, sum, copiedRows: num(r.copiedRows), ...(method ? { method } : {}), ...(major !== undefined ? { major } : {}) };
}

/** Narrows journal JSON to a RetentionDetail; null when it was not written by this version's step. */
export function readRetentionDetail(detail: unknown): RetentionDetail | null {
  if (typeof detail !== 'object' || detail === null) return null;
  const d = detail as Record<string, unknown>;
  const usage = d.usage as Record<string, unknown> | undefined;
  const oid = num(usage?.oid);
  const writes = str(usage?.writes);
  const comment = str(d.comment);
  if (oid === null || writes === null || comment === null || !Array.isArray(d.targets)) return null;
  const list = <T>(v: unknown, read: (x: unknown) => T | null): T[] => (Array.isArray(v) ? v.map(read).filter((x): x is T => x !== null) : []);
  return {
    days: num(d.days) ?? 0,
    retire: d.retire !== false,
    systemIdentifier: str(d.systemIdentifier),
    tables: list(d.tables, readTableBackup),
    views: list(d.views, readViewBackup),
    priorAcl: str(d.priorAcl),
    priorComment: str(d.priorComment),
    priorReadOnly: str(d.priorReadOnly),
    comment,
    usage: { oid, writes, statsReset: str(usage?.statsReset), ...tableWrites(usage?.tables) },
    targets: d.targets.map(readTarget).filter((t): t is TargetBaseline => t !== null),
  };
}
