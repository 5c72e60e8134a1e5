import type { PgClient } from '../steps/handler.js';
import { literal, qname } from '../pg/quote.js';
import { parseKey } from '../catalog/model.js';
import { isSumMethod, type SumMethod } from './table-sums.js';

/**
 * The comment that marks a moved table kept in place as a backup (a split without
 * `source.retire`): `retention prune` drops the table only while it carries it.
 */
export function tableRetentionComment(split: string, expires: string): string {
  return `cloudphone-split: moved by split ${split}, kept here as a fenced backup; expires ${expires}; drop with "cloudphone-split retention prune --yes" after that`;
}

/** True when `comment` is a table backup mark of `split` (any expiry). */
export function isTableRetentionComment(comment: string | null, split: string): boolean {
  return comment !== null && comment.startsWith(`cloudphone-split: moved by split ${split}, kept here as a fenced backup;`);
}

/** One COMMENT ON TABLE per moved table; nothing else in the source changes. */
export function tableRetentionSql(split: string, tables: readonly string[], expires: string): string[] {
  const comment = literal(tableRetentionComment(split, expires));
  return tables.map((t) => `COMMENT ON TABLE ${qname(parseKey(t))} IS ${comment}`);
}

/**
 * A moved table as `schedule_retention` found it, before marking it: what
 * `rollback` puts back (its comment) and what `retention prune` re-checks before
 * dropping it (its OID, and its rows: a count and checksum of its own rows,
 * ONLY, so a partitioned root counts none). `parent`: the moved table it is a
 * partition of (null for a root).
 */
export interface TableBackup {
  table: string;
  oid: number;
  /** `r` ordinary, `p` partitioned. */
  relkind: string;
  parent: string | null;
  priorComment: string | null;
  rows: number;
  sum: string;
  method: SumMethod;
  major: number;
}

/** A view the split moved with its tables: it stays in the source until prune drops it with them. */
export interface ViewBackup {
  view: string;
  oid: number;
  /** `v` view, `m` materialized view. */
  relkind: string;
}

/** OID, kind, moved parent and comment of each table (`schema.name`) that exists; missing ones are left out. */
export async function readTableStates(
  client: PgClient,
  tables: readonly string[],
): Promise<Map<string, { oid: number; relkind: string; parent: string | null; comment: string | null }>> {
  const r = await client.query<{ key: string; oid: string; relkind: string; parent: string | null; comment: string | null }>(
    `SELECT k.key, c.oid::text AS oid, c.relkind::text AS relkind,
            (SELECT pn.nspname || '.' || pc.relname FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent
               JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid LIMIT 1) AS parent,
            obj_description(c.oid, 'pg_class') AS comment
       FROM unnest($1::text[]) AS k(key)
       JOIN pg_namespace n ON n.nspname = split_part(k.key, '.', 1)
       JOIN pg_class c ON c.relnamespace = n.oid AND n.nspname || '.' || c.relname = k.key`,
    [tables],
  );
  const moved = new Set(tables);
  return new Map(
    r.rows.map((row) => [
      row.key,
      { oid: Number(row.oid), relkind: row.relkind, parent: row.parent !== null && moved.has(row.parent) ? row.parent : null, comment: row.comment },
    ]),
  );
}

/** OID and kind of each view (`schema.name`) that exists as a view or materialized view. */
export async function readViewStates(client: PgClient, views: readonly string[]): Promise<ViewBackup[]> {
  const r = await client.query<{ key: string; oid: string; relkind: string }>(
    `SELECT k.key, c.oid::text AS oid, c.relkind::text AS relkind
       FROM unnest($1::text[]) AS k(key)
       JOIN pg_namespace n ON n.nspname = split_part(k.key, '.', 1)
       JOIN pg_class c ON c.relnamespace = n.oid AND n.nspname || '.' || c.relname = k.key
      WHERE c.relkind IN ('v', 'm')`,
    [views],
  );
  return r.rows.map((row) => ({ view: row.key, oid: Number(row.oid), relkind: row.relkind }));
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function readTableBackup(v: unknown): TableBackup | null {
  if (typeof v !== 'object' || v === null) return null;
  const r = v as Record<string, unknown>;
  const table = str(r.table);
  const oid = num(r.oid);
  const rows = num(r.rows);
  const sum = str(r.sum);
  const major = num(r.major);
  if (table === null || oid === null || rows === null || sum === null || major === null) return null;
  if (!isSumMethod(r.method)) return null;
  return { table, oid, relkind: str(r.relkind) ?? 'r', parent: str(r.parent), priorComment: str(r.priorComment), rows, sum, method: r.method, major };
}

export function readViewBackup(v: unknown): ViewBackup | null {
  if (typeof v !== 'object' || v === null) return null;
  const r = v as Record<string, unknown>;
  const view = str(r.view);
  const oid = num(r.oid);
  if (view === null || oid === null) return null;
  return { view, oid, relkind: str(r.relkind) ?? 'v' };
}
