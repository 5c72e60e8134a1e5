import type { RunStatus, SplitStatus } from '../../engine/journal.js';
import { formatBytes } from '../../format/byte-size.js';
import { formatDuration } from './progress.js';
import type { Output } from '../output.js';

/**
 * One frame of `status --watch`: the newest run, per service how many steps are done,
 * and each running step with its rows, bytes, rate and time left. Pure: the same status
 * gives the same lines.
 */
export function watchFrame(status: SplitStatus & { abandoned?: true }, out: Pick<Output, 'c'>, width = 100): string[] {
  const { c } = out;
  const run: RunStatus | undefined = status.runs[0];
  if (!run) return [`No run of split ${status.name} yet. Start one with: cloudphone-split apply`];
  const color = run.state === 'succeeded' ? c.green : run.state === 'running' ? c.yellow : c.red;
  const lines = [`${c.bold(`split ${status.name}, run ${run.id}`)} ${color(run.state)}  started ${run.startedAt}${run.host ? ` on ${run.host}` : ''}`];
  if (status.abandoned) lines.push(`  ${c.red('no process runs it any more')} (killed, or it lost its connection): run the same command again to resume where it stopped`);
  const services = new Map<string, RunStatus['steps']>();
  for (const s of run.steps) {
    const key = s.service ?? '(split)';
    services.set(key, [...(services.get(key) ?? []), s]);
  }
  for (const [service, steps] of services) {
    const done = steps.filter((s) => s.state === 'done' || s.state === 'skipped').length;
    const failed = steps.filter((s) => s.state === 'failed').length;
    lines.push(`  ${c.bold(service.padEnd(24))} ${done}/${steps.length} steps done${failed ? c.red(`, ${failed} failed`) : ''}`);
    for (const s of steps.filter((x) => x.state === 'running')) {
      const parts: string[] = [];
      if (s.rows !== undefined) parts.push(`${s.rows.toLocaleString('en-US')}${s.rowsEstimate ? ` of ~${s.rowsEstimate.toLocaleString('en-US')}` : ''} rows`);
      if (s.bytes !== undefined) parts.push(formatBytes(s.bytes));
      if (s.bytesPerSecond !== undefined) parts.push(`${formatBytes(s.bytesPerSecond)}/s`);
      if (s.etaSeconds !== undefined) parts.push(`ETA ${formatDuration(s.etaSeconds * 1000)}`);
      const what = s.table ?? s.id;
      lines.push(`    ${c.yellow('▸')} ${what.length > width / 2 ? `${what.slice(0, width / 2 - 1)}…` : what}  ${c.dim(parts.join('  ') || s.kind)}`);
    }
    for (const s of steps.filter((x) => x.state === 'failed')) lines.push(`    ${c.red('✗')} ${s.id}: ${s.error ?? ''}`);
  }
  return lines;
}
