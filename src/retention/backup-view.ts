import type { RetentionRecord } from '../engine/journal.js';
import { readRetentionDetail } from './retention-detail.js';

/** A moved table kept in place as a backup (a split without source.retire). */
export interface BackupTableView {
  /** `schema.name` in the source. */
  table: string;
  /** ISO 8601: the split's expiry. */
  expires: string;
  /** The moved table it is a partition of (it goes with it), or null. */
  partitionOf: string | null;
}

/**
 * A backup as `retention list` shows it. `state`: `scheduled` (kept, not expired
 * yet), `expired` (kept, past its expiry: `prune --yes` drops it when `verified`),
 * `pruned` (dropped by prune), `restored` (given back by rollback).
 */
export interface BackupView {
  database: string;
  server: string;
  split: string;
  /** ISO 8601 */
  expires: string;
  state: 'scheduled' | 'expired' | 'pruned' | 'restored';
  verified: boolean;
  /** `prune --yes` would drop it now (expired, verified, still scheduled). */
  prunable: boolean;
  scheduledAt: string;
  updatedAt: string;
  /** Where prune wrote its archive, when it did. */
  archive: string | null;
  /**
   * source.retire: the whole database is the backup (prune drops the database).
   * False: the source stays in use and only `tables` are kept (prune drops those).
   */
  retired: boolean;
  /** The moved tables kept in place as backups, with their expiry ([] for a retired database). */
  tables: BackupTableView[];
}

export function backupView(r: RetentionRecord, now: Date): BackupView {
  const expired = r.expiresAt.getTime() <= now.getTime();
  const state = r.state === 'scheduled' ? (expired ? 'expired' : 'scheduled') : r.state;
  const archive = typeof r.detail?.archive === 'string' ? r.detail.archive : null;
  const detail = readRetentionDetail(r.detail);
  const expires = r.expiresAt.toISOString();
  return {
    database: r.database,
    server: r.server,
    split: r.split,
    expires,
    state,
    verified: r.verified,
    prunable: state === 'expired' && r.verified,
    scheduledAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    archive,
    retired: detail?.retire ?? true,
    tables: detail && !detail.retire ? detail.tables.map((t) => ({ table: t.table, expires, partitionOf: t.parent })) : [],
  };
}

/** "in 6 days", "3 hours ago": how far `at` is from `now`, roughly. */
export function relativeTime(at: Date, now: Date): string {
  const ms = at.getTime() - now.getTime();
  const abs = Math.abs(ms);
  const units: Array<[number, string]> = [
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
  ];
  let text = 'less than a minute';
  for (const [size, name] of units) {
    if (abs >= size) {
      const n = Math.floor(abs / size);
      text = `${n} ${name}${n === 1 ? '' : 's'}`;
      break;
    }
  }
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}
