import { Command } from 'commander';
import { withCommon, outputFor, type CommonOptions } from '../common.js';
import type { Io } from '../io.js';
import { loadSplit } from '../../plan/make.js';
import { Journal, type SplitStatus } from '../../engine/journal.js';
import { controlUrlFor } from '../../engine/journal-db.js';
import { BadInputError } from '../../errors.js';
import type { Output } from '../output.js';
import { formatBytes } from '../../format/byte-size.js';
import { Pools } from '../../pg/pools.js';
import { replicationLag, type ReplicationLag } from '../../online/replication-lag.js';

/** The journal's status, plus the replication lag per service while an online split replicates. */
export type StatusReport = SplitStatus & { replication?: ReplicationLag[] };

export async function statusCommand(opts: CommonOptions, out: Output, env: NodeJS.ProcessEnv): Promise<StatusReport> {
  const split = await loadSplit(opts.manifest, env, { source: true });
  for (const s of split.secrets) out.secrets.add(s);
  if (!split.servers.source) throw new BadInputError('source.url is not set');
  const journal = await Journal.open(controlUrlFor(split.servers.source, split.controlUrl));
  try {
    const status: StatusReport = await journal.status(split.manifest.name);
    const plan = status.runs.length > 0 ? await journal.lastPlan(split.manifest.name) : undefined;
    if (plan?.mode === 'online') {
      const pools = new Pools(split.servers, 2);
      try {
        status.replication = await replicationLag(pools, plan);
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
    lines.push(`  ${l.service.padEnd(22)} ${state}${lag}${sync}  ${c.dim(`slot ${l.slot}`)}`);
  }
  return [...lines, ''];
}

export function renderStatus(status: StatusReport, out: Output): void {
  const { c } = out;
  if (status.replication?.length) out.say(renderLag(status.replication, out).join('\n'));
  if (status.runs.length === 0) {
    out.say(`No run of split ${status.name} yet. Start one with: cloudphone-split apply`);
    return;
  }
  const lines: string[] = [];
  for (const run of status.runs) {
    const color = run.state === 'succeeded' ? c.green : run.state === 'running' ? c.yellow : c.red;
    lines.push(`${c.bold(`run ${run.id}`)} ${color(run.state)}  started ${run.startedAt}${run.finishedAt ? `, finished ${run.finishedAt}` : ''}`);
    for (const s of run.steps) {
      const st = s.state === 'done' ? c.green(s.state) : s.state === 'failed' ? c.red(s.state) : s.state === 'running' ? c.yellow(s.state) : c.dim(s.state);
      const extra = [s.rows !== undefined ? `${s.rows} rows` : '', s.bytes ? formatBytes(s.bytes) : '', s.ms !== undefined ? `${(s.ms / 1000).toFixed(1)} s` : '']
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

export function registerStatus(program: Command, io: Io): void {
  withCommon(
    program
      .command('status')
      .summary("show the journal: each step's state, timings, rows and bytes, the last error")
      .description('Reads the journal of the split named in the manifest (in the control database) and shows every run, newest first.'),
  ).action(async (opts: CommonOptions) => {
    const out = outputFor(opts, io);
    const status = await statusCommand(opts, out, io.env);
    if (out.json) out.data(status);
    else renderStatus(status, out);
    io.exit(0);
  });
}
