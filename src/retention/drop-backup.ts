import type pg from 'pg';
import { join } from 'node:path';
import { watchedDrop } from '../pg/drop-wait.js';
import { ident } from '../pg/quote.js';
import { withDatabase } from '../conn/connection.js';
import type { RetentionRecord } from '../engine/journal.js';
import { readRetentionDetail } from './retention-detail.js';
import { compareUsage, describeSession, otherSessions, readBackupUsage, readTableNames } from './backup-usage.js';
import { databaseClient, maintenanceClient } from './maintenance-client.js';
import { archiveFileName, dumpDatabase, type PgDumpBinary } from './pg-dump.js';
import { missingFromArchive } from './archive-check.js';
import { databaseTables, describeUnmoved, unmovedTables, type UnmovedTable } from './unmoved-tables.js';

/** What happened to one due backup. */
export type DropOutcome =
  | { action: 'dropped'; archive: string | null; warnings: string[] }
  | { action: 'gone'; warnings: string[] }
  | { action: 'refused'; reason: string; warnings: string[] };

export interface DropBackupOptions {
  serverUrl: string;
  /** Where the archive goes (absolute), with the pg_dump to write it; null: no archive. */
  archive: { dir: string; bin: PgDumpBinary } | null;
  now: Date;
  env: NodeJS.ProcessEnv;
  /** The tables the split moved (`schema.name`): everything else the backup holds is only there. */
  moved: ReadonlySet<string>;
  /** The manifest's source.schemas. */
  schemas: readonly string[];
  /** Told what the DROP DATABASE waits for while it takes long. */
  notify?: (message: string) => void;
}

const NO_DETAIL = 'the journal holds no record of its state when it was scheduled, so it cannot be checked: drop it by hand';

type Inspected = { action: 'ok'; warnings: string[]; expected: Array<{ schema: string; name: string }> } | Exclude<DropOutcome, { action: 'dropped' }>;

/** Every check dropBackup makes before it archives and drops (read only): the same refusals, in the same order. */
async function inspectBackup(
  admin: pg.Client,
  row: RetentionRecord,
  detail: NonNullable<ReturnType<typeof readRetentionDetail>>,
  opts: Pick<DropBackupOptions, 'serverUrl' | 'moved' | 'schemas'> & { archive: boolean },
): Promise<Inspected> {
  const found = await admin.query<{ oid: string }>(`SELECT oid::text AS oid FROM pg_database WHERE datname = $1`, [row.database]);
  if (found.rowCount === 0) return { action: 'gone', warnings: [`${row.database} no longer exists on server ${row.server}`] };
  const client = await databaseClient(opts.serverUrl, row.database);
  let warnings: string[];
  let unmoved: UnmovedTable[];
  let expected: Array<{ schema: string; name: string }>;
  try {
    const comment = await client.query<{ c: string | null }>(
      `SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = current_database()`,
    );
    const usage = compareUsage(row.database, detail.usage, await readBackupUsage(client), await readTableNames(client));
    warnings = usage.warnings;
    if (usage.refuse) return { action: 'refused', reason: usage.refuse, warnings };
    if (comment.rows[0]?.c !== detail.comment) {
      return { action: 'refused', reason: `its comment is no longer the one the split wrote, so it is not treated as this split's backup`, warnings };
    }
    // A session that is just ending still shows for a moment: look again before refusing.
    let sessions = await otherSessions(client, row.database);
    for (let i = 0; i < 10 && sessions.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      sessions = await otherSessions(client, row.database);
    }
    if (sessions.length > 0) {
      return { action: 'refused', reason: `it is in use: ${sessions.map(describeSession).join('; ')}`, warnings };
    }
    unmoved = await unmovedTables(client, opts.moved, opts.schemas);
    expected = await databaseTables(client);
  } finally {
    await client.end().catch(() => undefined);
  }
  if (unmoved.length > 0 && !opts.archive) {
    return {
      action: 'refused',
      reason: `it still holds rows that exist nowhere else: ${describeUnmoved(unmoved)}; set retention.archive so that an archive keeps them (or move them out by hand)`,
      warnings,
    };
  }
  return { action: 'ok', warnings, expected };
}

/**
 * What dropBackup would do now, changing nothing: its refusal (the same checks), `gone`,
 * or null when it would archive (`archive`: retention.archive is set) and drop it.
 */
export async function previewDropBackup(
  row: RetentionRecord,
  opts: Pick<DropBackupOptions, 'serverUrl' | 'moved' | 'schemas'> & { archive: boolean },
): Promise<Exclude<DropOutcome, { action: 'dropped' }> | null> {
  const detail = readRetentionDetail(row.detail);
  if (!detail) return { action: 'refused', reason: NO_DETAIL, warnings: [] };
  const admin = await maintenanceClient(opts.serverUrl, [row.database]);
  try {
    const facts = await inspectBackup(admin, row, detail, opts);
    return facts.action === 'ok' ? null : facts;
  } finally {
    await admin.end().catch(() => undefined);
  }
}

/**
 * Drops one expired backup, only when it is still the database the split marked and
 * nobody uses it: same OID as when it was scheduled, still carrying the split's
 * comment, no client session in it, provably no table written since (statistics
 * reset: refused). A backup that still holds rows the split did not move (ignored
 * tables, schemas outside source.schemas) is dropped only with an archive. The archive
 * (when asked) is written first, mode 0600, and its table of contents checked against
 * every table of the database; the drop is a plain DROP DATABASE, which fails rather
 * than ends a session that connected meanwhile.
 */
export async function dropBackup(row: RetentionRecord, opts: DropBackupOptions): Promise<DropOutcome> {
  const detail = readRetentionDetail(row.detail);
  if (!detail) return { action: 'refused', reason: NO_DETAIL, warnings: [] };
  const admin = await maintenanceClient(opts.serverUrl, [row.database]);
  try {
    const facts = await inspectBackup(admin, row, detail, { ...opts, archive: opts.archive !== null });
    if (facts.action !== 'ok') return facts;
    const { warnings, expected } = facts;

    let archive: string | null = null;
    if (opts.archive) {
      const file = join(opts.archive.dir, archiveFileName(row.database, opts.now));
      try {
        await dumpDatabase(opts.archive.bin, withDatabase(opts.serverUrl, row.database), file, opts.env);
        // The archive is read back before anything is dropped: every table must be in it.
        const missing = await missingFromArchive(opts.archive.bin, file, expected);
        if (missing.length > 0) {
          return { action: 'refused', reason: `the archive ${file} lacks the data of ${missing.join(', ')}, so the database was kept`, warnings };
        }
      } catch (err) {
        return { action: 'refused', reason: `archiving it failed, so it was kept: ${(err as Error).message}`, warnings };
      }
      archive = file;
    }

    try {
      await watchedDrop(admin, `DROP DATABASE ${ident(row.database)}`, row.database, opts.notify, () => maintenanceClient(opts.serverUrl, [row.database]));
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === '55006') return { action: 'refused', reason: `a session connected to it meanwhile: ${(err as Error).message}`, warnings };
      throw err;
    }
    return { action: 'dropped', archive, warnings };
  } finally {
    await admin.end().catch(() => undefined);
  }
}
