import { isServiceApplied, type ServiceProgress } from '../../run/service-progress.js';
import type { Output } from '../output.js';

/**
 * Per service: its state and steps done over every run of the plan, under a line saying
 * how many are applied and whether retention waits for the others. Pure.
 */
export function serviceLines(status: { name: string; services?: ServiceProgress[]; retention?: 'scheduled' | 'waiting' | 'pruned' | 'none' }, out: Pick<Output, 'c'>): string[] {
  const { c } = out;
  const services = status.services ?? [];
  if (services.length === 0) return [];
  const applied = services.filter(isServiceApplied).length;
  const retention =
    status.retention === 'scheduled' ? '; retention scheduled'
    : status.retention === 'pruned' ? '; backup pruned'
    : status.retention === 'waiting' && applied > 0 ? '; retention starts after the last' : '';
  const lines = [c.bold(`services of split ${status.name}: ${applied} of ${services.length} applied${retention}`)];
  const width = Math.max(...services.map((s) => s.name.length)) + 2;
  for (const s of services) {
    const color = s.state === 'rolling back' ? c.yellow : isServiceApplied(s) ? c.green : s.state === 'failed' ? c.red : s.state === 'running' ? c.yellow : c.dim;
    lines.push(`  ${s.name.padEnd(width)} ${color(s.state.padEnd(14))} ${`${s.stepsDone}/${s.steps}`.padStart(7)} steps done  ${c.dim(s.database)}`);
  }
  return lines;
}
