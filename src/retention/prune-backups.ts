import type { Journal, RetentionRecord } from '../engine/journal.js';
import { BadInputError } from '../errors.js';
import { redact } from '../conn/connection.js';
import { backupView, relativeTime, type BackupView } from './backup-view.js';
import { dropBackup, previewDropBackup } from './drop-backup.js';
import { databaseClient, maintenanceClient, sameDatabase, serverVersionNum } from './maintenance-client.js';
import { liveFences } from '../waves/fence-triggers.js';
import { findPgDump, type PgDumpBinary } from './pg-dump.js';
import { copiedTables } from '../verify/plan-tables.js';
import { readRetentionDetail } from './retention-detail.js';
import { dropTables, previewTablesDrop, type DroppedTables } from './drop-tables.js';

export interface PruneOptions {
  journal: Journal;
  /** The split of the manifest: only its backups are considered (its servers are the ones known). */
  split: string;
  /** Server name → expanded URL ("source" is the source database's URL). */
  servers: Record<string, string>;
  /** The journal's control database: never dropped, even if a row names it. */
  controlUrl: string;
  now: Date;
  yes: boolean;
  /** Absolute folder for `pg_dump -Fc` archives; null: no archive. */
  archiveDir: string | null;
  env: NodeJS.ProcessEnv;
  /** The manifest's source.schemas: tables elsewhere were never the split's. */
  schemas: readonly string[];
  warn(message: string): void;
  /**
   * Ends what still writes into the backups before anything is dropped (an online
   * split's reverse replication); runs only when a backup is due and `yes` is given.
   */
  beforeDrop?(): Promise<void>;
}

/** One backup of the split and what prune did (or would do) with it. */
export interface PruneEntry extends BackupView {
  action: 'dropped' | 'would-drop' | 'kept' | 'refused' | 'gone';
  reason: string;
  /** A split that does not retire its source: what was dropped (tables, their partitions, views, sequences, constraints). */
  dropped?: DroppedTables;
}

/** The tables, partitions, views, sequences and constraints that went, as one sentence. */
export function describeDropped(d: DroppedTables): string {
  const parts = [`tables ${d.tables.join(', ')}`];
  if (d.partitions.length > 0) parts.push(`with their partitions ${d.partitions.join(', ')}`);
  if (d.sequences.length > 0) parts.push(`and the sequences they owned ${d.sequences.join(', ')}`);
  if (d.views.length > 0) parts.push(`after the moved views ${d.views.join(', ')}`);
  if (d.constraints.length > 0) {
    parts.push(`after dropping the foreign keys of tables that stay: ${d.constraints.map((c) => `${c.table}.${c.constraint} (references ${c.references})`).join(', ')}`);
  }
  return parts.join(', ');
}

export interface PruneReport {
  now: string;
  dryRun: boolean;
  backups: PruneEntry[];
}

/** Why a scheduled backup is not dropped yet: kept (not due, exit 0) or refused (due, but unverified: exit 1, someone must look). */
function notDue(r: RetentionRecord, now: Date): { action: 'kept' | 'refused'; reason: string } | null {
  if (r.expiresAt.getTime() > now.getTime()) return { action: 'kept', reason: `not expired: expires ${relativeTime(r.expiresAt, now)} (${r.expiresAt.toISOString()})` };
  if (!r.verified) {
    return { action: 'refused', reason: 'expired, but no `verify --checksums` run passed since the split finished, so its backup is kept: run `cloudphone-split verify --checksums`' };
  }
  return null;
}

/** The pg_dump for each due backup's server, or a refusal naming what to install (before anything is dropped). */
async function archiveBinaries(due: RetentionRecord[], opts: PruneOptions): Promise<Map<string, PgDumpBinary>> {
  const bins = new Map<string, PgDumpBinary>();
  const missing: string[] = [];
  for (const server of new Set(due.map((r) => r.server))) {
    const admin = await maintenanceClient(opts.servers[server]!);
    let major: number;
    try {
      major = Math.floor((await serverVersionNum(admin)) / 10_000);
    } finally {
      await admin.end().catch(() => undefined);
    }
    const { found, seen } = await findPgDump(major, opts.env);
    if (found) bins.set(server, found);
    else {
      const have = seen.length ? seen.map((b) => `${b.version} (${b.path})`).join(', ') : 'none';
      missing.push(`server ${server} runs PostgreSQL ${major}, which needs pg_dump ${major} or newer; found: ${have}`);
    }
  }
  if (missing.length > 0) {
    throw new BadInputError(
      `retention.archive is set, but no pg_dump can archive these backups, so nothing was dropped:\n  ${missing.join('\n  ')}`,
      'install the PostgreSQL client of that major (e.g. apt-get install postgresql-client-18), or pass --no-archive to drop without an archive',
    );
  }
  return bins;
}

/** "split wave-1 (12 moved tables)": another split's backup a retiring prune drops with the database. */
function describeKept(o: RetentionRecord): string {
  const n = readRetentionDetail(o.detail)?.tables.length ?? 0;
  return `split ${o.split} (${n} moved ${n === 1 ? 'table' : 'tables'})`;
}

/**
 * `retention prune`: drops the split's expired backups of verified runs, and only
 * with `yes`; without it, reports what it would drop. Only rows the journal marked
 * `scheduled` are ever considered, and each is re-checked by dropBackup before the
 * drop. With `archiveDir`, a pg_dump archive of each is written first; when no
 * suitable pg_dump exists nothing is dropped.
 */
export async function pruneBackups(opts: PruneOptions): Promise<PruneReport> {
  const rows = await opts.journal.retention(opts.split);
  const entries: PruneEntry[] = [];
  const due: RetentionRecord[] = [];
  for (const r of rows) {
    const view = backupView(r, opts.now);
    if (r.state !== 'scheduled') {
      entries.push({ ...view, action: 'kept', reason: r.state === 'pruned' ? 'already pruned' : 'restored by rollback: no longer a backup' });
      continue;
    }
    const why = notDue(r, opts.now);
    const url = opts.servers[r.server];
    if (why) entries.push({ ...view, ...why });
    else if (!url) entries.push({ ...view, action: 'refused', reason: `the manifest has no server named "${r.server}"` });
    else if (sameDatabase(opts.controlUrl, url, r.database)) {
      entries.push({ ...view, action: 'refused', reason: `it holds the journal (${redact(opts.controlUrl)})` });
    } else due.push(r);
  }
  // Other splits' backups kept in a database a due backup retires: they go with it, only once each of them may go too.
  const retiring = due.filter((r) => readRetentionDetail(r.detail)?.retire !== false);
  const allRows = retiring.length > 0 ? await opts.journal.retention() : [];
  const othersIn = (r: RetentionRecord) =>
    allRows.filter((o) => o.split !== opts.split && o.state !== 'restored' && o.server === r.server && o.database === r.database);
  const keptWith = (r: RetentionRecord) => othersIn(r).filter((o) => o.state === 'scheduled');
  /** Why a retiring backup must wait for another split's (the same refusal with and without --yes), or null. */
  const waitingFor = (r: RetentionRecord): string | null => {
    const waiting = keptWith(r).flatMap((o) => {
      const why = notDue(o, opts.now);
      return why ? [`split ${o.split} keeps its backup of ${readRetentionDetail(o.detail)?.tables.length ?? 0} moved tables in it, which may not go yet (${why.reason.replace(/, so its backup is kept: .*$/, '')})`] : [];
    });
    return waiting.length > 0 ? `dropping the database would drop another split's backup too: ${waiting.join('; ')}; prune again once it may go` : null;
  };
  /**
   * Fences of other splits in a database a due backup retires that this journal keeps no
   * backup of (a split not finished yet, or journaled in another control database): dropping
   * the database would drop their tables too. The same refusal with and without --yes.
   */
  const unknownFences = async (r: RetentionRecord): Promise<string | null> => {
    let client;
    try {
      client = await databaseClient(opts.servers[r.server]!, r.database);
    } catch {
      // dropBackup connects again and says why it cannot.
      return null;
    }
    try {
      const known = new Set([opts.split, ...othersIn(r).filter((o) => o.state === 'scheduled').map((o) => o.split)]);
      const others = [...(await liveFences(client))].filter(([split]) => !known.has(split));
      if (others.length === 0) return null;
      return (
        `dropping the database would drop the tables other splits moved and fenced in it, which this journal keeps no backup of (a split not finished yet, or journaled in another control database): ` +
        `${others.map(([split, tables]) => `split ${split} (${tables.length} ${tables.length === 1 ? 'table' : 'tables'}, e.g. ${tables[0]})`).join('; ')}; ` +
        `prune again once ${others.length === 1 ? 'it has' : 'they have'} finished with a backup this journal knows, or ${others.length === 1 ? 'is' : 'are'} rolled back`
      );
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  const retiringRefusal = async (r: RetentionRecord): Promise<string | null> => waitingFor(r) ?? (await unknownFences(r));
  const plan = due.length > 0 ? await opts.journal.lastPlan(opts.split) : undefined;
  const FUNCTION_KINDS = new Set(['function', 'procedure', 'aggregate', 'window function']);
  const ownFunctions = new Set(plan?.services.flatMap((s) => (s.objects ?? []).filter((o) => FUNCTION_KINDS.has(o.kind)).map((o) => o.name)) ?? []);
  const moved = new Set(plan ? copiedTables(plan).map((t) => `${t.source.schema}.${t.source.name}`) : []);
  // Earlier waves of the same source: the tables they moved (kept or already pruned) are in their databases too.
  if (plan) for (const r of retiring) for (const o of othersIn(r)) for (const t of readRetentionDetail(o.detail)?.tables ?? []) moved.add(t.table);
  if (!opts.yes) {
    for (const r of due) {
      const view = backupView(r, opts.now);
      let wait = readRetentionDetail(r.detail)?.retire !== false ? await retiringRefusal(r) : await previewTablesDrop(r, opts.servers[r.server]!, ownFunctions);
      if (!wait && readRetentionDetail(r.detail)?.retire !== false) {
        // What dropBackup checks when it acts (written since, its comment, sessions, rows only it holds), asked now: the preview says what --yes would do.
        const would = await previewDropBackup(r, { serverUrl: opts.servers[r.server]!, moved, schemas: opts.schemas, archive: Boolean(opts.archiveDir) });
        for (const w of would?.warnings ?? []) opts.warn(`${r.database}: ${w}`);
        if (would?.action === 'refused') wait = would.reason;
        if (would?.action === 'gone') {
          entries.push({ ...view, action: 'would-drop', reason: `it no longer exists on server ${r.server}: --yes marks it pruned` });
          continue;
        }
      }
      if (wait) {
        entries.push({ ...view, action: 'refused', reason: wait });
        continue;
      }
      const others = view.retired ? keptWith(r) : [];
      const what = view.retired
        ? `the database${others.length > 0 ? `, with the backups other splits kept in it: ${others.map(describeKept).join(', ')}` : ''}`
        : `its ${view.tables.length} moved tables (the database stays)`;
      entries.push({ ...view, action: 'would-drop', reason: `expired, verified and still marked as this split's backup: drops ${what}` });
    }
    return { now: opts.now.toISOString(), dryRun: true, backups: entries };
  }
  if (due.length > 0 && opts.beforeDrop) {
    // What refuses whatever reverse replication does (a view or function on the kept tables, another split's backup
    // not due) refuses first: a prune that refuses leaves the way back as it was.
    for (let i = due.length - 1; i >= 0; i--) {
      const r = due[i]!;
      const refusal = readRetentionDetail(r.detail)?.retire !== false ? await retiringRefusal(r) : await previewTablesDrop(r, opts.servers[r.server]!, ownFunctions);
      if (!refusal) continue;
      entries.push({ ...backupView(r, opts.now), action: 'refused', reason: refusal });
      due.splice(i, 1);
    }
  }
  if (due.length > 0 && opts.beforeDrop) {
    await opts.beforeDrop();
    // Ending it records the backup's write counters again: drop against the rows as they are now.
    const fresh = new Map((await opts.journal.retention(opts.split)).map((r) => [r.id, r]));
    for (let i = 0; i < due.length; i++) due[i] = fresh.get(due[i]!.id) ?? due[i]!;
  }
  const bins = opts.archiveDir && due.length > 0 ? await archiveBinaries(due, opts) : null;
  for (const r of due) {
    const detail = readRetentionDetail(r.detail);
    if (detail && !detail.retire) {
      const outcome = await dropTables(r, {
        serverUrl: opts.servers[r.server]!,
        split: opts.split,
        archive: bins && opts.archiveDir ? { dir: opts.archiveDir, bin: bins.get(r.server)! } : null,
        now: opts.now,
        env: opts.env,
        ownFunctions,
      });
      for (const w of outcome.warnings) opts.warn(`${r.database}: ${w}`);
      if (outcome.action === 'refused') {
        entries.push({ ...backupView(r, opts.now), action: 'refused', reason: outcome.reason });
        continue;
      }
      const archive = outcome.action === 'dropped' ? outcome.archive : null;
      const dropped = outcome.action === 'dropped' ? outcome.dropped : undefined;
      const updated = await opts.journal.updateRetention(r.id, {
        state: 'pruned',
        detail: { ...(r.detail ?? {}), prunedAt: opts.now.toISOString(), archive, ...(dropped ? { dropped } : { goneBeforePrune: true }) },
      });
      const view = backupView(updated ?? r, opts.now);
      entries.push(
        dropped
          ? { ...view, action: 'dropped', reason: `${archive ? `archived to ${archive}, then dropped` : 'dropped'} ${describeDropped(dropped)}; the database stays`, dropped }
          : { ...view, action: 'gone', reason: 'its tables no longer existed; marked pruned' },
      );
      continue;
    }
    const wait = await retiringRefusal(r);
    if (wait) {
      entries.push({ ...backupView(r, opts.now), action: 'refused', reason: wait });
      continue;
    }
    const outcome = await dropBackup(r, {
      serverUrl: opts.servers[r.server]!,
      archive: bins && opts.archiveDir ? { dir: opts.archiveDir, bin: bins.get(r.server)! } : null,
      now: opts.now,
      env: opts.env,
      moved,
      schemas: opts.schemas,
      notify: opts.warn,
    });
    for (const w of outcome.warnings) opts.warn(`${r.database}: ${w}`);
    if (outcome.action === 'refused') {
      entries.push({ ...backupView(r, opts.now), action: 'refused', reason: outcome.reason });
      continue;
    }
    const archive = outcome.action === 'dropped' ? outcome.archive : null;
    const updated = await opts.journal.updateRetention(r.id, {
      state: 'pruned',
      detail: { ...(r.detail ?? {}), prunedAt: opts.now.toISOString(), archive, ...(outcome.action === 'gone' ? { goneBeforePrune: true } : {}) },
    });
    // The other splits' backups in it went with it.
    const withIt = keptWith(r);
    for (const o of withIt) {
      await opts.journal.updateRetention(o.id, { state: 'pruned', detail: { ...(o.detail ?? {}), prunedAt: opts.now.toISOString(), archive, prunedWith: opts.split } });
    }
    const also = withIt.length > 0 ? `, with the backups other splits kept in it (marked pruned too): ${withIt.map(describeKept).join(', ')}` : '';
    const view = backupView(updated ?? r, opts.now);
    entries.push(
      outcome.action === 'dropped'
        ? { ...view, action: 'dropped', reason: `${archive ? `archived to ${archive}, then dropped` : 'dropped'}${also}` }
        : { ...view, action: 'gone', reason: `it no longer existed; marked pruned${also}` },
    );
  }
  return { now: opts.now.toISOString(), dryRun: false, backups: entries };
}
