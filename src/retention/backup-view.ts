import type { RetentionRecord } from '../engine/journal.js';

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
}

export function backupView(r: RetentionRecord, now: Date): BackupView {
  const expired = r.expiresAt.getTime() <= now.getTime();
  const state = r.state === 'scheduled' ? (expired ? 'expired' : 'scheduled') : r.state;
  const archive = typeof r.detail?.archive === 'string' ? r.detail.archive : null;
  return {
    database: r.database,
    server: r.server,
    split: r.split,
    expires: r.expiresAt.toISOString(),
    state,
    verified: r.verified,
    prunable: state === 'expired' && r.verified,
    scheduledAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    archive,
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
