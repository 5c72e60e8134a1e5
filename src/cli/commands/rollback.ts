import type { CommonOptions } from '../common.js';
import { consent, type Terminal } from '../consent.js';
import type { Output } from '../output.js';
import { loadSplitServers } from '../../retention/load-split-servers.js';
import { Journal } from '../../engine/journal.js';
import { controlUrlFor } from '../../engine/journal-db.js';
import { SplitLock } from '../../engine/lock.js';
import { BadInputError, ExitCode } from '../../errors.js';
import { rollbackSplit, type RollbackOptions, type RollbackPreview, type RollbackReport } from '../../rollback/rollback-split.js';
import { rollbackServices } from '../../rollback/rollback-services.js';

export interface RollbackCommandOptions extends CommonOptions {
  yes?: boolean;
  /** `--service`: only these services. */
  service?: string[];
  /** `--discard-source-writes`: see RollbackOptions.discardSourceWrites. */
  discardSourceWrites?: string[];
}

const list = (items: Array<{ server: string; name: string }>): string => items.map((i) => (i.server === 'source' ? i.name : `${i.name} (on ${i.server})`)).join(', ');

export function renderPreview(p: RollbackPreview, out: Output): void {
  const lines = [p.services ? `Rollback of ${p.services.join(', ')} (split ${p.split}) will:` : `Rollback of split ${p.split} will:`];
  if (p.reverse?.length) {
    lines.push(
      `  fence ${list(p.reverse)} (writes refused there, naming ${p.source}), wait until ${p.source} has applied every write made to them since cutover,`,
      `  set the sequences of ${p.source} at or past theirs, and end the reverse replication; they are kept, fenced, not dropped`,
    );
  }
  if (p.checkedTables > 0) lines.push(`  (checked ${p.checkedTables} target tables: none changed since the copy)`);
  if (p.configFiles.length > 0) lines.push(`  restore ${p.configFiles.length} config files: ${p.configFiles.join(', ')}`);
  if (p.liftBackup) lines.push(`  make ${p.source} writable again: lift the read-only mark, give back CONNECT, restore its comment`);
  if (p.tableMarks > 0) lines.push(`  restore the comments of the ${p.tableMarks} moved tables of ${p.source} kept as backups`);
  if (p.fenceTables > 0) lines.push(`  remove the fence from ${p.fenceTables} tables of ${p.source}`);
  if (p.restarts.length > 0) lines.push(`  run again: ${p.restarts.map((r) => r.command).join('; ')}`);
  if (p.databases.length > 0) lines.push(`  DROP ${p.databases.length} databases: ${list(p.databases)}`);
  if (p.adopted.length > 0) lines.push(`  keep ${list(p.adopted)} (they existed before the split), dropping what the split's roles own in them`);
  if (p.roles.length > 0) lines.push(`  drop ${p.roles.length} roles: ${list(p.roles)}`);
  for (const k of p.crossWaveKeys ?? []) lines.push(out.c.yellow(`  note: ${k}`));
  out.warn(lines.join('\n'));
}

/** Rolls back the split named in the manifest (SPEC §5); asks first unless `yes`. */
export async function rollbackCommand(opts: RollbackCommandOptions, out: Output, env: NodeJS.ProcessEnv, term: Terminal): Promise<{ code: number; report: RollbackReport }> {
  const split = await loadSplitServers(opts.manifest, env);
  for (const s of split.secrets) out.secrets.add(s);
  const name = split.manifest.name;
  const controlUrl = controlUrlFor(split.servers.source!, split.controlUrl);
  const journal = await Journal.open(controlUrl);
  const lock = await SplitLock.acquire(controlUrl, name, `cloudphone-split rollback ${name}`).catch(async (err: unknown) => {
    await journal.close();
    throw err;
  });
  const abort = new AbortController();
  const onSigint = () => {
    out.warn('\nInterrupted: finishing the running steps, then stopping (rerun rollback to resume).');
    abort.abort();
  };
  // SIGTERM too (Kubernetes stops a pod with it): the steps running finish, the rest waits for a rerun.
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigint);
  try {
    const options: RollbackOptions = {
      signal: abort.signal,
      progress: {
        emit: (e) => {
          if (e.type === 'log') out.warn(e.message);
          else if (e.type === 'step-start') out.warn(`${e.stepId}: ${e.description}`);
          else if (e.type === 'step-failed') out.warn(`${e.stepId} failed: ${e.error}`);
        },
      },
      journal,
      split: name,
      servers: split.servers,
      controlUrl,
      baseDir: split.baseDir,
      env,
      secrets: split.secrets,
      ...(opts.discardSourceWrites ? { discardSourceWrites: opts.discardSourceWrites } : {}),
      async confirm(preview) {
        if (opts.yes) return true;
        renderPreview(preview, out);
        return consent(term, false, { action: 'rollback drops databases', question: 'Roll back?' });
      },
    };
    if (opts.service && opts.discardSourceWrites) {
      throw new BadInputError('--discard-source-writes applies to a rollback of the whole split after an online cutover, not with --service', 'run rollback without --service');
    }
    const report = opts.service ? await rollbackServices(options, opts.service) : await rollbackSplit(options);
    const code = report.problems.some((p) => p.holdsData) ? ExitCode.difference : report.problems.length > 0 ? ExitCode.stepFailed : ExitCode.ok;
    return { code, report };
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    await lock.release().catch(() => undefined);
    await journal.close().catch(() => undefined);
  }
}

export function renderRollback(r: RollbackReport, out: Output): void {
  const { c } = out;
  const services = r.preview?.services;
  if (r.state === 'nothing-to-do') {
    out.say(`Split ${r.name}: the journal records nothing left to roll back${services ? ' for those services' : ''}.`);
    return;
  }
  if (r.state === 'cancelled') {
    out.say('Nothing was changed.');
    return;
  }
  const lines: string[] = [];
  const dropped = (items: RollbackReport['dropped']['databases']) =>
    items.map((d) => `${d.server === 'source' ? d.name : `${d.name} (on ${d.server})`}${d.outcome === 'absent' ? ' (already gone)' : ''}`).join(', ');
  if (r.restored.configFiles.length > 0) lines.push(`restored config: ${r.restored.configFiles.join(', ')}`);
  if (r.restored.unchangedConfigFiles.length > 0) lines.push(`config already original: ${r.restored.unchangedConfigFiles.join(', ')}`);
  if (r.restored.readOnlyLifted) {
    lines.push(`${r.preview?.source ?? 'the source'} is writable again${r.restored.grants.length ? ` (${r.restored.grants.length} privileges given back)` : ''}${r.restored.commentRestored ? ', comment restored' : ''}${r.restored.stillFenced.length > 0 ? ', except the tables other splits still fence (below)' : ''}`);
  }
  if (r.restored.tableComments > 0) lines.push(`comments restored on ${r.restored.tableComments} moved tables`);
  if (r.restored.fenceRemovedFrom > 0) lines.push(`fence removed from ${r.restored.fenceRemovedFrom} tables`);
  const fenced = r.restored.stillFenced;
  if (fenced.length > 0 && (r.restored.readOnlyLifted || r.restored.fenceRemovedFrom > 0)) {
    const shown = fenced.length > 10 ? `${fenced.slice(0, 10).join(', ')} and ${fenced.length - 10} more` : fenced.join(', ');
    lines.push(`still fenced by other splits of ${r.preview?.source ?? 'the source'} (other waves; rolling those back lifts it): ${fenced.length} ${fenced.length === 1 ? 'table' : 'tables'}: ${shown}`);
  }
  for (const s of r.restarts) lines.push(s.ok ? `ran: ${s.command}` : c.yellow(`restart of ${s.service} failed: ${s.command}\n${s.output}`));
  if (r.dropped.databases.length > 0) lines.push(`dropped databases: ${dropped(r.dropped.databases)}`);
  if (r.dropped.roles.length > 0) lines.push(`dropped roles: ${dropped(r.dropped.roles)}`);
  if (r.dropped.replication?.length) lines.push(`dropped replication: ${r.dropped.replication.join(', ')}`);
  for (const k of r.kept.databases) lines.push(`kept database ${k.name}: ${k.reason}`);
  for (const w of r.warnings) lines.push(c.yellow(`warning: ${w}`));
  for (const p of r.problems) lines.push(c.red(`not dropped: ${p.name} on ${p.server}: ${p.problem}`));
  lines.push(
    r.problems.length > 0
      ? c.red(`Split ${r.name} is rolled back except for the above; fix it and run rollback again to finish.`)
      : services
        ? c.green(`${services.join(', ')} of split ${r.name} rolled back; the other services are left as they were (\`apply --service ${services.join(',')}\` applies them again).`)
        : r.preview?.reverse?.length
          ? c.green(
              `Split ${r.name} rolled back. The new databases are kept, fenced (${r.preview.reverse.map((d) => d.name).join(', ')}): the next apply starts from scratch once they are dropped (DROP DATABASE, when you no longer need them).`,
            )
          : c.green(`Split ${r.name} rolled back: the next apply starts from scratch.`),
  );
  out.say(lines.join('\n'));
}
