import type { CommonOptions } from '../common.js';
import { lockHolder } from '../../engine/lock.js';
import { loadSplit, readLiveCatalog } from '../../plan/make.js';
import { changedTables, newSourcePartitions, schemaDrift } from '../../online/schema-drift.js';
import { presentInTargets, targetColumns } from '../../online/target-columns.js';
import { Journal, type SplitStatus } from '../../engine/journal.js';
import { controlUrlFor } from '../../engine/journal-db.js';
import { unfinishedRollback } from '../../rollback/rollback-split.js';
import { cutoverProgress } from '../../run/applied-plan.js';
import { liveFences } from '../../waves/fence-triggers.js';
import { BadInputError } from '../../errors.js';
import type { Output } from '../output.js';
import { formatBytes } from '../../format/byte-size.js';
import { Pools } from '../../pg/pools.js';
import { replicationLag, type ReplicationLag } from '../../online/replication-lag.js';
import { withRates } from '../../engine/step-rates.js';
import { watchFrame } from '../views/status-watch.js';
import { reverseReplicationLag, type ReverseLag } from '../../online/reverse-lag.js';
import { splitProgress, type ServiceProgress } from '../../run/service-progress.js';
import { planHash } from '../../engine/plan-hash.js';
import { serviceLines } from '../views/service-progress.js';

/** Whether a session holds the split's lock in the control database now. */
async function lockHeld(controlUrl: string, name: string): Promise<boolean> {
  return (await lockHolder(controlUrl, name, 'cloudphone-split status')) !== undefined;
}

/** The journal's status, plus the replication lag per service while an online split replicates. */
export type StatusReport = SplitStatus & {
  replication?: ReplicationLag[];
  /** Online mode: moved tables whose source schema changed since the plan (cutover refuses them). */
  schemaDrift?: string[];
  /** Online mode after cutover: the lag of the source's subscription to each service database (what rollback waits for). */
  reverseReplication?: ReverseLag[];
  /** Per service of the latest plan: steps done over all its runs, and its state (`apply --service` applies a few at a time). */
  services?: ServiceProgress[];
  /** schedule_retention of the latest plan: done, or waiting for the services not applied yet; `pruned` once `retention prune` dropped the backup. */
  retention?: 'scheduled' | 'waiting' | 'pruned';
  /**
   * The newest run is `running` in the journal but no session holds the split's lock: its
   * process is gone (killed, or its connection lost). Run the same command again to resume.
   */
  abandoned?: true;
  /** When a rollback started changing things and did not finish (killed): the split is partly undone. */
  unfinishedRollback?: string;
  /** An online cutover started and did not finish: the source's moved tables refuse writes until it runs again. */
  cutoverUnfinished?: true;
  /** With cutoverUnfinished: whether the source carries this split's fence now (read live; absent when it could not be read). */
  cutoverFenced?: boolean;
};

export interface StatusOptions extends CommonOptions {
  /** Seconds between frames; absent: print once. */
  watch?: number;
  /** Only the newest runs. */
  limit?: number;
}

export async function statusCommand(opts: StatusOptions, out: Output, env: NodeJS.ProcessEnv): Promise<StatusReport> {
  const split = await loadSplit(opts.manifest, env, { source: true });
  for (const s of split.secrets) out.secrets.add(s);
  if (!split.servers.source) throw new BadInputError('source.url is not set');
  const journal = await Journal.open(controlUrlFor(split.servers.source, split.controlUrl));
  try {
    const raw = await journal.status(split.manifest.name, opts.limit === undefined ? {} : { limit: opts.limit });
    const plan = raw.runs.length > 0 ? await journal.lastPlan(split.manifest.name) : undefined;
    const status: StatusReport = withRates(raw, plan, new Date());
    // A run the journal calls running holds the split's lock while its process lives (the server frees it when the process dies).
    if (raw.runs[0]?.state === 'running' && !(await lockHeld(controlUrlFor(split.servers.source, split.controlUrl), split.manifest.name))) {
      status.abandoned = true;
      // Nothing copies any more: no rate, no time left (they would be the dead process's last figures).
      for (const st of status.runs[0]!.steps) {
        delete st.bytesPerSecond;
        delete st.etaSeconds;
      }
    }
    const rollbackStarted = await unfinishedRollback(journal, split.manifest.name);
    // While its process holds the split's lock, the rollback is running, not left half-way.
    if (rollbackStarted !== null && !(await lockHeld(controlUrlFor(split.servers.source, split.controlUrl), split.manifest.name))) status.unfinishedRollback = rollbackStarted;
    // A cutover that started and did not finish (killed, failed): the source stays fenced until it runs again to the end.
    if (plan?.mode === 'online' && (await cutoverProgress(plan, controlUrlFor(split.servers.source, split.controlUrl))) === 'unfinished') status.cutoverUnfinished = true;
    let done = new Set<string>();
    if (plan) {
      const hash = planHash(plan);
      done = new Set((await journal.doneSteps(split.manifest.name, hash)).keys());
      const newest = raw.runs[0]?.planHash === hash ? raw.runs[0] : undefined;
      const progress = splitProgress(plan, done, newest?.state === 'rolled_back' ? undefined : newest);
      status.services = progress.services;
      if (progress.retention !== 'none') status.retention = progress.retention;
      if (status.retention === 'scheduled') {
        const backups = await journal.retention(split.manifest.name);
        if (backups.length > 0 && backups.every((b) => b.state === 'pruned')) status.retention = 'pruned';
      }
    }
    if (plan?.mode === 'online') {
      const pools = new Pools(split.servers, 2);
      try {
        // Killed before its fence went up (or after a failed fence rolled back), the source still takes writes: read it, do not assume.
        if (status.cutoverUnfinished) {
          const client = await pools.pool('source').connect();
          try {
            status.cutoverFenced = (await liveFences(client)).has(plan.name);
          } finally {
            client.release();
          }
        }
        status.replication = await replicationLag(pools, plan);
        const reverse = await reverseReplicationLag(pools, plan);
        if (reverse.length > 0) status.reverseReplication = reverse;
        // Only before cutover's fence: from it on the source carries the tool's own fence, and cutover has nothing left to refuse.
        const fenced = plan.steps.some((x) => x.kind === 'fence_source' && x.phase === 'cutover' && done.has(x.id));
        if (!fenced) {
          const live = await readLiveCatalog(split.servers.source, split.manifest.source.schemas);
          const drift = schemaDrift(plan, live, await targetColumns(pools, plan, changedTables(plan, live)), await presentInTargets(pools, newSourcePartitions(plan, live)));
          if (drift.length > 0) status.schemaDrift = drift;
        }
      } catch (err) {
        out.warn(`replication lag unavailable: ${(err as Error).message}`);
      } finally {
        await pools.end();
      }
    }
    return status;
  } finally {
    await journal.close();
  }
}

function renderLag(lags: ReplicationLag[], out: Output): string[] {
  const { c } = out;
  const lines = [c.bold('replication (online mode)')];
  for (const l of lags) {
    const state = !l.exists ? c.dim('not running') : l.active ? c.green('streaming') : c.yellow('inactive');
    const lag = l.lagBytes === null ? '' : `, ${formatBytes(l.lagBytes)} behind`;
    const sync = l.syncing ? `, ${l.syncing} tables still in initial copy` : '';
    const failed = l.errors ? `, ${c.red(`${l.errors} failed ${l.errors === 1 ? 'apply' : 'applies'}`)} (the log of server ${l.server} says why)` : '';
    lines.push(`  ${l.service.padEnd(22)} ${state}${lag}${sync}${failed}  ${c.dim(`slot ${l.slot}`)}`);
  }
  return [...lines, ''];
}

function renderReverseLag(lags: ReverseLag[], out: Output): string[] {
  const { c } = out;
  const lines = [c.bold('reverse replication (after cutover: what rollback brings back)')];
  for (const l of lags) {
    const state = l.active ? c.green('streaming') : c.yellow('inactive');
    const lag = l.lagBytes === null ? '' : `, ${formatBytes(l.lagBytes)} behind`;
    lines.push(`  ${l.service.padEnd(22)} ${state}${lag}  ${c.dim(`slot ${l.slot} on ${l.database}`)}`);
    for (const p of l.stuckOn ?? []) {
      lines.push(
        `    ${c.red('stuck')}: ${p.partition} (a partition of ${p.root}, ${p.rows} ${p.rows === 1 ? 'row' : 'rows'}) was made in ${l.database} since cutover and the source has no partition for its rows: ` +
          `reverse replication of ${l.database} stops at them; make it in the source: BEGIN READ WRITE; ${p.ddl}; COMMIT;`,
      );
    }
  }
  return [...lines, ''];
}

/** The replication sections of a status frame: forward (while it runs), then reverse (after cutover). */
function renderReplication(status: StatusReport, out: Output): string[] {
  const forward = (status.replication ?? []).some((l) => l.exists) || !status.reverseReplication?.length ? status.replication ?? [] : [];
  return [...(forward.length ? renderLag(forward, out) : []), ...(status.reverseReplication?.length ? renderReverseLag(status.reverseReplication, out) : [])];
}

export function renderStatus(status: StatusReport, out: Output): void {
  const replication = renderReplication(status, out);
  if (replication.length) out.say(replication.join('\n'));
  for (const d of status.schemaDrift ?? []) out.say(out.c.red(`schema changed since the plan: ${d} (cutover will refuse it)`));
  const { c } = out;
  if (status.runs.length === 0) {
    out.say(`No run of split ${status.name} yet. Start one with: cloudphone-split apply`);
    return;
  }
  const lines: string[] = status.services ? [...serviceLines(status, out), ''] : [];
  if (status.cutoverUnfinished) {
    const what =
      status.cutoverFenced === false
        ? "the source's moved tables are not fenced (the cutover stopped before its fence went up), so their writes still go to the source; run `cloudphone-split cutover` again to finish it"
        : `the source's moved tables ${status.cutoverFenced ? 'refuse' : 'may refuse'} writes (fenced) until \`cloudphone-split cutover\` runs again to the end`;
    lines.unshift(`${c.red('a cutover started and did not finish')}: ${what} (or \`rollback\` undoes it)`, '');
  }
  if (status.unfinishedRollback) {
    lines.unshift(`${c.red(`a rollback started at ${status.unfinishedRollback} did not finish`)}: the split is partly undone; run \`cloudphone-split rollback\` again to finish it`, '');
  }
  for (const run of status.runs) {
    const color = run.state === 'succeeded' ? c.green : run.state === 'running' ? c.yellow : c.red;
    lines.push(`${c.bold(`run ${run.id}`)} ${color(run.state)}  started ${run.startedAt}${run.finishedAt ? `, finished ${run.finishedAt}` : ''}`);
    if (status.abandoned && run === status.runs[0]) {
      lines.push(`  ${c.red('no process runs it any more')} (killed, or it lost its connection): run the same command again to resume where it stopped`);
    }
    for (const s of run.steps) {
      const st = s.state === 'done' ? c.green(s.state) : s.state === 'failed' ? c.red(s.state) : s.state === 'running' ? c.yellow(s.state) : c.dim(s.state);
      const live = s.state === 'running' && s.bytesPerSecond !== undefined ? `${formatBytes(s.bytesPerSecond)}/s${s.etaSeconds !== undefined ? `, ETA ${s.etaSeconds} s` : ''}` : '';
      const extra = [s.rows !== undefined ? `${s.rows} rows` : '', s.bytes ? formatBytes(s.bytes) : '', live, s.ms !== undefined ? `${(s.ms / 1000).toFixed(1)} s` : '']
        .filter(Boolean)
        .join(', ');
      lines.push(`  ${st.padEnd(out.color ? 17 : 8)} ${s.id}${extra ? c.dim(`  (${extra})`) : ''}`);
      if (s.error) lines.push(`           ${c.red(s.error)}`);
    }
    if (run.error) lines.push(`  ${c.red('last error:')} ${run.error}`);
    lines.push('');
  }
  out.say(lines.join('\n'));
}

/** Replication of an online split is running, forward (between apply and cutover) or reverse (after cutover, until --complete). */
function replicating(status: StatusReport): boolean {
  return (status.replication ?? []).some((l) => l.exists) || (status.reverseReplication ?? []).length > 0;
}

/**
 * `status --watch`: a frame every `seconds` until the newest run is no longer running,
 * or no process runs it any more (killed: the frame says so), and no replication of the
 * split runs (or Ctrl-C): the lag of every subscription, and
 * after cutover the reverse replication's, stay on screen while they change. On a terminal each frame replaces the last; otherwise frames follow one
 * another; with --json each frame is one JSON document (jq reads them in turn).
 */
export async function watchStatus(opts: StatusOptions, out: Output, env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<StatusReport> {
  const seconds = opts.watch ?? 2;
  for (;;) {
    const status = await statusCommand({ ...opts, limit: 1 }, out, env);
    if (out.json) out.data(status);
    else {
      const drift = (status.schemaDrift ?? []).map((d) => out.c.red(`schema changed since the plan: ${d}`));
      const lines = [...renderReplication(status, out), ...drift, ...serviceLines(status, out), ...watchFrame(status, out, out.stdout.columns ?? 100)];
      out.say(`${out.interactive ? '\x1b[H\x1b[2J' : ''}${lines.join('\n')}${out.interactive ? '' : '\n'}`);
    }
    const ended = status.runs[0]?.state !== 'running' || status.abandoned === true;
    if ((ended && !replicating(status)) || signal.aborted) return status;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, seconds * 1000);
      signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
    if (signal.aborted) return status;
  }
}
