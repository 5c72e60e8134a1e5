import type { Plan } from '../plan/model.js';
import type { RunStatus } from '../engine/journal.js';

/** Where one service of the split stands, over every run of the plan (`status`). */
export interface ServiceProgress {
  name: string;
  database: string;
  /**
   * applied: every apply step done (offline); online plans say `replicating` instead
   * until the service's cutover steps are done, then `cut over`, and `rolling back` once a
   * rollback through reverse replication has begun (and until it ends: a finished rollback
   * leaves no plan to show). running/failed: the newest run is at one of its steps.
   */
  state: 'applied' | 'replicating' | 'cut over' | 'rolling back' | 'partly applied' | 'not applied' | 'running' | 'failed';
  stepsDone: number;
  steps: number;
}

/** The split's services, and whether the steps shared by all (preflight, schedule_retention) are done. */
export interface SplitProgress {
  services: ServiceProgress[];
  applied: number;
  /** schedule_retention: done, or waiting for the services not applied yet (an online plan's runs with its cutover: none until then). */
  retention: 'scheduled' | 'waiting' | 'none';
}

/** Every apply step of the service is done, whatever happened since (replication, cutover). */
export const isServiceApplied = (s: Pick<ServiceProgress, 'state'>): boolean =>
  s.state === 'applied' || s.state === 'replicating' || s.state === 'cut over' || s.state === 'rolling back';

/**
 * Per service of `plan`: its apply steps done in any run of the plan (`done`), and
 * whether the newest run (`newest`, a run of this plan) is running or failed at one of them. Pure.
 */
export function splitProgress(plan: Plan, done: ReadonlySet<string>, newest: RunStatus | undefined): SplitProgress {
  const apply = plan.steps.filter((s) => (s.phase ?? 'apply') === 'apply');
  const cutover = plan.steps.filter((s) => s.phase === 'cutover');
  const rollingBack = plan.steps.some((s) => s.phase === 'reverse' && done.has(s.id));
  const current = new Map<string, string>((newest?.steps ?? []).map((s) => [s.id, s.state]));
  const services = plan.services.map((svc): ServiceProgress => {
    const steps = apply.filter((s) => s.service === svc.name);
    const stepsDone = steps.filter((s) => done.has(s.id)).length;
    const states = steps.map((s) => current.get(s.id));
    const mine = cutover.filter((s) => s.service === svc.name);
    const cutOver = mine.length > 0 && mine.every((s) => done.has(s.id));
    const applied: ServiceProgress['state'] = plan.mode !== 'online' ? 'applied' : cutOver ? (rollingBack ? 'rolling back' : 'cut over') : 'replicating';
    const state: ServiceProgress['state'] =
      stepsDone === steps.length
        ? applied
        : newest?.state === 'running' && states.includes('running')
          ? 'running'
          : states.includes('failed')
            ? 'failed'
            : stepsDone > 0
              ? 'partly applied'
              : 'not applied';
    return { name: svc.name, database: svc.database, state, stepsDone, steps: steps.length };
  });
  const retention = plan.steps.find((s) => s.kind === 'schedule_retention');
  return {
    services,
    applied: services.filter(isServiceApplied).length,
    retention: !retention ? 'none' : done.has(retention.id) ? 'scheduled' : retention.phase === 'cutover' ? 'none' : 'waiting',
  };
}
