import { join } from 'node:path';
import { ident, qname } from '../pg/quote.js';
import { parseKey } from '../catalog/model.js';
import { withDatabase } from '../conn/connection.js';
import type { RetentionRecord } from '../engine/journal.js';
import { systemIdentifier } from '../pg/server-identity.js';
import { readRetentionDetail } from './retention-detail.js';
import { databaseClient } from './maintenance-client.js';
import { archiveFileName, dumpDatabase, tableDumpArgs, type PgDumpBinary } from './pg-dump.js';
import { missingFromArchive } from './archive-check.js';
import { blockingDependents, dependentsRefusal, dropSet, functionsRefusal, functionsUsing, keptTableRefusal, preparedSums, writtenSince, type ReferencingKey } from './table-facts.js';
import { readTableStates } from './table-backup.js';
import { dropUnusedFenceSql } from '../steps/fence-source.js';

/** What prune dropped with the kept tables of a split that does not retire its source. */
export interface DroppedTables {
  /** Dropped by name. */
  tables: string[];
  /** Partitions of those tables: dropped with them. */
  partitions: string[];
  /** Moved views over them, dropped first. */
  views: string[];
  /** Sequences the tables owned: dropped with them. */
  sequences: string[];
  /** Foreign keys of tables that stay, to the dropped tables: dropped by name first. */
  constraints: ReferencingKey[];
}

export type TablesDropOutcome =
  | { action: 'dropped'; archive: string | null; dropped: DroppedTables; warnings: string[] }
  | { action: 'gone'; warnings: string[] }
  | { action: 'refused'; reason: string; warnings: string[] };

export interface DropTablesOptions {
  /** The source's URL (its server; the database is the retention row's). */
  serverUrl: string;
  split: string;
  archive: { dir: string; bin: PgDumpBinary } | null;
  now: Date;
  env: NodeJS.ProcessEnv;
  /** Functions the split gave a service's database (`schema.name(args)`): their copies left in the source are its own. */
  ownFunctions?: ReadonlySet<string>;
}

const refused = (reason: string, warnings: string[] = []): TablesDropOutcome => ({ action: 'refused', reason, warnings });

/**
 * Drops the moved tables a split kept in place as backups (a split without
 * source.retire), never the database and never a table it did not move. Every fact
 * is re-checked first: the server (system identifier) and the database (OID) are the
 * ones recorded, each table has the OID recorded, still carries the fence and the
 * split's comment. Then, in one transaction holding SHARE locks on the tables (no
 * write can happen any more): their rows equal the count and checksum recorded when
 * they became backups; the archive (when configured) is written with pg_dump -t of
 * exactly those tables and read back; the foreign keys of remaining tables to them
 * are dropped by name, then the moved views, then the tables (their partitions and
 * owned sequences go with them). No CASCADE: anything else depending on them makes
 * the drop fail, and nothing is dropped. When no table is fenced any more, the fence
 * function and the tool's then empty schema in the source go too.
 */
export async function dropTables(row: RetentionRecord, opts: DropTablesOptions): Promise<TablesDropOutcome> {
  const detail = readRetentionDetail(row.detail);
  if (!detail || detail.retire || detail.tables.length === 0) {
    return refused('the journal holds no record of the kept tables as they were when scheduled, so they cannot be checked: drop them by hand');
  }
  let client;
  try {
    client = await databaseClient(opts.serverUrl, row.database);
  } catch (err) {
    // 3D000: the database itself is gone (connectError keeps the driver's error as its cause).
    if ((err as { cause?: { code?: string } }).cause?.code === '3D000') {
      return { action: 'gone', warnings: [`${row.database} no longer exists on server ${row.server}`] };
    }
    throw err;
  }
  try {
    const sysid = await systemIdentifier(client);
    if (detail.systemIdentifier === null || sysid === null) return refused('the server\'s system identifier cannot be read (or was not recorded), so the server cannot be proved to be the one the split ran on');
    if (sysid !== detail.systemIdentifier) return refused(`server ${row.server} is not the server the split ran on (system identifier ${detail.systemIdentifier} then, ${sysid} now)`);
    const db = await client.query<{ oid: string }>(`SELECT oid::text AS oid FROM pg_database WHERE datname = current_database()`);
    if (Number(db.rows[0]?.oid) !== detail.usage.oid) {
      return refused(`database ${row.database} is not the source the split ran on (OID ${detail.usage.oid} then, ${db.rows[0]?.oid} now)`);
    }
    const present = await readTableStates(client, detail.tables.map((t) => t.table));
    if (present.size === 0) return { action: 'gone', warnings: [`none of the ${detail.tables.length} kept tables exists any more in ${row.database}`] };
    const before = await keptTableRefusal(client, detail.tables, detail.comment);
    if (before) return refused(before);
    const sums = await preparedSums(client, detail.tables);
    if ('refuse' in sums) return refused(sums.refuse);
    const set = await dropSet(client, detail.tables, detail.views);
    if ('refuse' in set) return refused(set.refuse);
    // Before the archive is written: a drop PostgreSQL would refuse leaves no archive behind.
    const blocked =
      dependentsRefusal(await blockingDependents(client, detail.tables, set.views)) ??
      functionsRefusal(await functionsUsing(client, [...set.roots, ...set.partitions], opts.ownFunctions ?? new Set()));
    if (blocked) return refused(blocked, set.notes);

    await client.query('BEGIN');
    try {
      await client.query(`SET LOCAL lock_timeout = '60s'`);
      // Writes wait from here on (readers and pg_dump do not); the facts are read again under the lock.
      await client.query(`LOCK TABLE ${set.roots.map((t) => qname(parseKey(t))).join(', ')} IN SHARE MODE`);
      const locked = (await keptTableRefusal(client, detail.tables, detail.comment)) ?? (await writtenSince(client, detail.tables, sums.prepared));
      if (locked) {
        await client.query('ROLLBACK');
        return refused(locked, set.notes);
      }
      let archive: string | null = null;
      if (opts.archive) {
        const file = join(opts.archive.dir, archiveFileName(`${row.database}-${opts.split}-tables`, opts.now));
        const all = detail.tables.map((t) => parseKey(t.table));
        try {
          await dumpDatabase(opts.archive.bin, withDatabase(opts.serverUrl, row.database), file, opts.env, tableDumpArgs(all));
          const missing = await missingFromArchive(opts.archive.bin, file, detail.tables.filter((t) => t.relkind === 'r').map((t) => parseKey(t.table)));
          if (missing.length > 0) {
            await client.query('ROLLBACK');
            return refused(`the archive ${file} lacks the data of ${missing.join(', ')}, so the tables were kept`, set.notes);
          }
        } catch (err) {
          await client.query('ROLLBACK');
          return refused(`archiving them failed, so they were kept: ${(err as Error).message}`, set.notes);
        }
        archive = file;
      }
      for (const fk of set.referencing) {
        await client.query(`ALTER TABLE ${qname(parseKey(fk.table))} DROP CONSTRAINT ${ident(fk.constraint)}`);
      }
      const views = set.views.filter((v) => v.relkind === 'v').map((v) => qname(parseKey(v.view)));
      const matviews = set.views.filter((v) => v.relkind === 'm').map((v) => qname(parseKey(v.view)));
      if (views.length > 0) await client.query(`DROP VIEW ${views.join(', ')}`);
      if (matviews.length > 0) await client.query(`DROP MATERIALIZED VIEW ${matviews.join(', ')}`);
      await client.query(`DROP TABLE ${set.roots.map((t) => qname(parseKey(t))).join(', ')}`);
      for (const s of dropUnusedFenceSql()) await client.query(s);
      await client.query('COMMIT');
      return {
        action: 'dropped',
        archive,
        dropped: { tables: set.roots, partitions: set.partitions, views: set.views.map((v) => v.view), sequences: set.sequences, constraints: set.referencing },
        warnings: set.notes,
      };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      const e = err as { code?: string; message: string; detail?: string };
      // 2BP01: something else depends on them (a view left in the source...); 55P03: a lock was not granted in time.
      if (e.code === '2BP01' || e.code === '55P03') return refused(`${e.message}${e.detail ? `: ${e.detail.replace(/\n/g, '; ')}` : ''}; nothing was dropped`, set.notes);
      throw err;
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * What `retention prune` without `--yes` says of a split's kept tables: the refusal the
 * real run would meet before dropping anything (the tables no longer the ones kept, a
 * partition attached since, views or functions that depend on them), or null.
 */
export async function previewTablesDrop(row: RetentionRecord, serverUrl: string, ownFunctions: ReadonlySet<string> = new Set()): Promise<string | null> {
  const detail = readRetentionDetail(row.detail);
  if (!detail || detail.retire || detail.tables.length === 0) return null;
  let client;
  try {
    client = await databaseClient(serverUrl, row.database);
  } catch {
    return null;
  }
  try {
    const kept = await keptTableRefusal(client, detail.tables, detail.comment);
    if (kept) return kept;
    const set = await dropSet(client, detail.tables, detail.views);
    if ('refuse' in set) return set.refuse;
    return (
      dependentsRefusal(await blockingDependents(client, detail.tables, set.views)) ??
      functionsRefusal(await functionsUsing(client, [...set.roots, ...set.partitions], ownFunctions))
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

