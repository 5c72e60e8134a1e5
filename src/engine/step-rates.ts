import type { Plan } from '../plan/model.js';
import type { SplitStatus, StepStatus } from './journal-status.js';

/**
 * The status with each copy step's estimates taken from the plan and, for running steps,
 * the rate since the step started and the time left at that rate. Pure.
 */
export function withRates(status: SplitStatus, plan: Plan | undefined, now: Date): SplitStatus {
  if (!plan) return status;
  const estimates = new Map<string, { rows: number; bytes: number }>();
  for (const s of plan.steps) if (s.kind === 'copy_data') estimates.set(s.id, { rows: s.rowsEstimate, bytes: s.bytes });
  const enrich = (step: StepStatus): StepStatus => {
    const est = estimates.get(step.id);
    if (!est) return step;
    const out: StepStatus = { ...step, rowsEstimate: est.rows, bytesEstimate: est.bytes };
    if (step.state !== 'running' || !step.startedAt || step.bytes === undefined) return out;
    const seconds = (now.getTime() - Date.parse(step.startedAt)) / 1000;
    if (seconds <= 0 || step.bytes <= 0) return out;
    out.bytesPerSecond = Math.round(step.bytes / seconds);
    if (est.bytes > 0) out.etaSeconds = Math.max(0, Math.round((est.bytes - step.bytes) / (step.bytes / seconds)));
    return out;
  };
  return { ...status, runs: status.runs.map((r) => ({ ...r, steps: r.steps.map(enrich) })) };
}
