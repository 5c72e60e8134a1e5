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
