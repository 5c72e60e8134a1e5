import type { CutoverCopy } from './cutover-copies.js';
import type { Plan } from '../plan/model.js';
import type { Pools } from '../pg/pools.js';
import { isConnectionLoss } from '../pg/connection-loss.js';

export const CHECK_KINDS = ['rowcount', 'checksum', 'schema', 'sequence', 'config', 'isolation', 'fence', 'health', 'orphans', 'denormalized'] as const;
export type CheckKind = (typeof CHECK_KINDS)[number];

/**
 * One verified fact about the split. `ok: false` is a difference the user must act on;
 * `detail` says what differs (and, for a failure, what to do) in one line, without
 * secrets. `source`/`target` hold the compared values when there are two sides;
 * `keys` names the first differing rows of a table (at most 10), as column → text.
 * `orphans` checks are informational and always `ok: true`.
 */
export interface Check {
  kind: CheckKind;
  service?: string;
  table?: string;
  ok: boolean;
  source?: unknown;
  target?: unknown;
  detail: string;
  keys?: unknown[];
  /**
   * The check could not run because a connection was lost, a server could not be
   * reached or the role lacks a privilege (with `ok: false`): no verdict, so no difference
   * either. Verify exits 3 (run it again) when such checks are the only failures, 1 when a
   * difference was found.
   */
  unverified?: true;
}

/**
 * `{ unverified: true }` for a check that failed with `err` because a connection was lost or
 * refused, or the server refused the role a privilege (42501: what it read says nothing of
 * the data); `{}` otherwise (a difference).
 */
export function unverifiedBy(err: unknown): { unverified?: true } {
  return isConnectionLoss(err) || (err as { code?: unknown } | null)?.code === '42501' ? { unverified: true } : {};
}

/** What every check reads: the plan and live connections. Built once by `verifySplit`. */
export interface VerifyContext {
  plan: Plan;
  pools: Pools;
  /** Expanded URLs by server name; "source" is the source server and database. */
  servers: Record<string, string>;
  /** Role name → expanded password (null: none given). */
  rolePasswords: Record<string, string | null>;
  /** Folder of the manifest: config file paths are relative to it. */
  baseDir: string;
  /** How many tables are compared at once (each uses one source and one target connection). */
  jobs: number;
  progress(msg: string): void;
  /**
   * The source stays open to the services' roles: a split applied one service at a time
   * (`verify --service`) before its last service, when schedule_retention has not run.
   */
  sourceOpen?: boolean;
  /** Online splits: the tables cutover copied that reverse replication does not carry, with their copy's baseline (cutover-copies.ts). */
  cutoverCopies?: ReadonlyMap<string, CutoverCopy>;
}

/** The message of an error, for a check's detail (never a URL with a password: pg errors hold none). */
export function errorText(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const msg = e.message ?? String(err);
  if (!e.code) return msg;
  // Five characters are a SQLSTATE; node's own codes (ECONNREFUSED...) are shown as they are.
  return /^[0-9A-Z]{5}$/.test(e.code) ? `${msg} (SQLSTATE ${e.code})` : msg.includes(e.code) ? msg : `${msg} (${e.code})`;
}

/** Runs `fn` over `items` with at most `limit` at once, keeping the input order in the result. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
