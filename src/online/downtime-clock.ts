import type { Plan, StepKind } from '../plan/model.js';
import type { ProgressEvent, ProgressSink } from '../steps/handler.js';

/**
 * Measures the write downtime of a cutover while passing every event on: from the
 * start of fence_source (writes to the source fail from its commit; they wait on its
 * locks before) to the end of the last stop_replication. `fenceAt` stays undefined
 * when the fence was done by an earlier run.
 */
export class DowntimeClock implements ProgressSink {
  fenceAt: number | undefined;
  stoppedAt: number | undefined;
  private readonly kinds: Map<string, StepKind>;

  constructor(
    plan: Plan,
    private readonly inner: ProgressSink,
    private readonly clock: () => number = Date.now,
  ) {
    this.kinds = new Map(plan.steps.map((s) => [s.id, s.kind]));
  }

  emit(event: ProgressEvent): void {
    if (event.type === 'step-start' && event.kind === 'fence_source') this.fenceAt = this.clock();
    if (event.type === 'step-done' && !event.skipped && this.kinds.get(event.stepId) === 'stop_replication') this.stoppedAt = this.clock();
    this.inner.emit(event);
  }

  /** Milliseconds from the fence to the end of replication, when both happened in this run. */
  get ms(): number | null {
    return this.fenceAt !== undefined && this.stoppedAt !== undefined ? Math.max(0, this.stoppedAt - this.fenceAt) : null;
  }
}

/** One service's client-visible downtime: from the fence to the first write its new database accepted. */
export interface ServiceDowntime {
  service: string;
  database: string;
  /** When the new database accepted the probe write after the repoint (and restart), ISO 8601; null if unknown. */
  firstWriteAt: string | null;
  /** Milliseconds from the fence to `firstWriteAt` (null when either is unknown). */
  ms: number | null;
}

/**
 * Per service with a repoint_config step: from the fence (`fencedAt`, epoch ms) to the
 * write probe its repoint recorded in the journal (`results`: detail by step id). Pure.
 */
export function serviceDowntimes(plan: Plan, fencedAt: number | null, results: ReadonlyMap<string, { detail?: Record<string, unknown> } | undefined>): ServiceDowntime[] {
  const out: ServiceDowntime[] = [];
  for (const s of plan.steps) {
    if (s.kind !== 'repoint_config' || s.phase !== 'cutover') continue;
    const probe = results.get(s.id)?.detail?.probe as { acceptedAt?: string | null } | undefined;
    const firstWriteAt = probe?.acceptedAt ?? null;
    const ms = firstWriteAt !== null && fencedAt !== null ? Math.max(0, Date.parse(firstWriteAt) - fencedAt) : null;
    out.push({ service: s.service ?? s.target.service, database: s.target.database, firstWriteAt, ms });
  }
  return out;
}
