import { resolve as resolvePath } from 'node:path';
import type { CommonOptions } from '../common.js';
import type { Output } from '../output.js';
import { loadSplitServers, type SplitServers } from '../../retention/load-split-servers.js';
import { Journal } from '../../engine/journal.js';
import { controlUrlFor } from '../../engine/journal-db.js';
import { SplitLock } from '../../engine/lock.js';
import { ExitCode } from '../../errors.js';
import { backupView, relativeTime, type BackupView } from '../../retention/backup-view.js';
import { pruneBackups, type PruneReport } from '../../retention/prune-backups.js';
import { endReverseReplication } from '../../run/complete.js';

export interface RetentionListOptions extends CommonOptions {
  now?: Date;
}

export interface RetentionPruneOptions extends CommonOptions {
  yes?: boolean;
  now?: Date;
  /** false with --no-archive. */
  archive?: boolean;
}

async function openJournal(opts: CommonOptions, out: Output, env: NodeJS.ProcessEnv): Promise<{ split: SplitServers; controlUrl: string; journal: Journal }> {
  const split = await loadSplitServers(opts.manifest, env);
  for (const s of split.secrets) out.secrets.add(s);
  const controlUrl = controlUrlFor(split.servers.source!, split.controlUrl);
  return { split, controlUrl, journal: await Journal.open(controlUrl) };
}

/** Every backup the journal of the manifest's control database records, every split included. */
export async function retentionListCommand(opts: RetentionListOptions, out: Output, env: NodeJS.ProcessEnv): Promise<BackupView[]> {
  const { journal } = await openJournal(opts, out, env);
  try {
    const now = opts.now ?? new Date();
    return (await journal.retention()).map((r) => backupView(r, now));
  } finally {
    await journal.close();
  }
}

export function renderList(rows: BackupView[], now: Date, out: Output): void {
  if (rows.length === 0) {
    out.say('No backups: no split has reached schedule_retention in this journal.');
    return;
  }
  const header = ['DATABASE', 'SERVER', 'SPLIT', 'EXPIRES', 'STATE', 'BACKUP'];
  const expires = (iso: string) => `${iso.replace(/\.\d{3}Z$/, 'Z')} (${relativeTime(new Date(iso), now)})`;
  // A database another split (a later wave) retired is no longer in use, whatever this split's own backup says.
  const retiredBy = new Set(rows.filter((r) => r.retired && r.state !== 'restored').map((r) => `${r.server}\u0000${r.database}`));
  const table = rows.map((r) => [
    r.database,
    r.server,
    r.split,
    r.state === 'restored' || r.state === 'pruned' ? '-' : expires(r.expires),
    r.state === 'expired' && !r.verified ? 'expired, unverified: kept' : r.state,
    r.retired
      ? 'the whole database (retired)'
      : `${r.tables.length} moved tables (${retiredBy.has(`${r.server}\u0000${r.database}`) ? 'in a database another split retired' : 'the database stays in use'})`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const lines = [out.c.bold(line(header))];
  rows.forEach((r, i) => {
    lines.push(line(table[i]!));
    const width = Math.max(0, ...r.tables.map((t) => t.table.length));
    // A backup rolled back or pruned expires no more: its tables are not listed with a date.
    if (r.state === 'restored' || r.state === 'pruned') return;
    for (const t of r.tables) {
      lines.push(`  ${t.table.padEnd(width)}  expires ${expires(t.expires)}${t.partitionOf ? `, a partition of ${t.partitionOf}` : ''}`);
    }
  });
  out.say(lines.join('\n'));
}

/** `retention prune`: see pruneBackups. Exit 2 when something is due and --yes is missing; 1 when a due backup was refused. */
export async function retentionPruneCommand(
  opts: RetentionPruneOptions,
  out: Output,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; report: PruneReport; message: string | null }> {
  const { split, controlUrl, journal } = await openJournal(opts, out, env);
  const name = split.manifest.name;
  const lock = await SplitLock.acquire(controlUrl, name, `cloudphone-split retention prune ${name}`).catch(async (err: unknown) => {
    await journal.close();
    throw err;
  });
  try {
    const archive = split.archive;
    const report = await pruneBackups({
      journal,
      split: name,
      servers: split.servers,
      controlUrl,
      now: opts.now ?? new Date(),
      yes: Boolean(opts.yes),
      archiveDir: archive && opts.archive !== false ? resolvePath(split.baseDir, archive) : null,
      env,
      schemas: split.manifest.source.schemas,
      warn: (m) => out.warn(`warning: ${m}`),
      // An online split's reverse replication writes into the backup: it ends first, for good.
      beforeDrop: async () => {
        const ended = await endReverseReplication({
          journal,
          split: name,
          servers: split.servers,
          baseDir: split.baseDir,
          env,
          progress: { emit: (e) => (e.type === 'log' ? out.warn(e.message) : undefined) },
          signal: new AbortController().signal,
        });
        if (ended.state === 'completed') out.warn(`reverse replication ended for good before pruning${ended.dropped.length ? `: dropped ${ended.dropped.join(', ')}` : ''}`);
      },
    });
    const due = report.backups.filter((b) => b.action === 'would-drop').length;
    const refused = report.backups.filter((b) => b.action === 'refused').length;
    if (due > 0) {
      return { code: ExitCode.badInput, report, message: `refusing to drop ${due} expired backup${due === 1 ? '' : 's'} without --yes; nothing was dropped (run again with --yes)` };
    }
    if (refused > 0) return { code: ExitCode.difference, report, message: `${refused} expired backup${refused === 1 ? ' was' : 's were'} kept: see why above` };
    return { code: ExitCode.ok, report, message: null };
  } finally {
    await lock.release().catch(() => undefined);
    await journal.close().catch(() => undefined);
  }
}

export function renderPrune(report: PruneReport, out: Output): void {
  const { c } = out;
  const lines: string[] = [];
  for (const b of report.backups) {
    const what = `${b.database}${b.server === 'source' ? '' : ` (on ${b.server})`}`;
    if (b.action === 'dropped') lines.push(`${c.green('dropped')}     ${what}: ${b.reason}`);
    else if (b.action === 'would-drop') lines.push(`${c.yellow('would drop')}  ${what}: ${b.reason}`);
    else if (b.action === 'refused') lines.push(`${c.red('refused')}     ${what}: ${b.reason}`);
    else if (b.action === 'gone') lines.push(`${c.dim('gone')}        ${what}: ${b.reason}`);
    else lines.push(`${c.dim('kept')}        ${what}: ${b.reason}`);
  }
  if (lines.length === 0) lines.push('No backups recorded for this split.');
  else if (!report.backups.some((b) => b.action !== 'kept')) lines.push('Nothing to prune.');
  out.say(lines.join('\n'));
}
