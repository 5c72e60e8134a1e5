import type { ProgressEvent } from '../steps/handler.js';

/** Where the running steps' counters go: the journal's `stepProgress`. */
export interface LiveProgressStore {
  stepProgress(runId: number, stepId: string, rows: number, bytes: number): Promise<void>;
}

/** How often running steps' rows and bytes are written to the journal, unless the run says otherwise. */
export const LIVE_PROGRESS_MS = 2000;

/**
 * Running steps' rows and bytes written to the journal every `intervalMs`, so that
 * `status` from another shell (or a dashboard reading `status --json`) sees a copy
 * move. Only steps whose counters changed since the last write are written. A failed
 * write is dropped: progress must never fail a run. The journal only takes the counters
 * of a step still marked running, so a late write cannot undo its final result.
 */
export class LiveProgress {
  private readonly latest = new Map<string, { rows: number; bytes: number }>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: LiveProgressStore,
    private readonly runId: number,
    intervalMs: number = LIVE_PROGRESS_MS,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  /** Feeds one progress event: counters of running steps are kept, finished steps forgotten. */
  see(event: ProgressEvent): void {
    if (event.type === 'step-progress') this.latest.set(event.stepId, { rows: event.rows, bytes: event.bytes });
    else if (event.type === 'step-done' || event.type === 'step-failed') this.latest.delete(event.stepId);
  }

  /** Writes the counters that changed; one write at a time. */
  flush(): Promise<void> {
    const pending = [...this.latest];
    this.latest.clear();
    this.flushing = this.flushing.then(async () => {
      for (const [stepId, c] of pending) await this.store.stepProgress(this.runId, stepId, c.rows, c.bytes).catch(() => undefined);
    });
    return this.flushing;
  }

  /** Stops the timer and waits for a write in flight. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flushing;
  }
}
