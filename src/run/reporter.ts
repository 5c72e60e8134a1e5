/**
 * What a run handler may say while it works: the secrets to hide from everything printed,
 * and diagnostics (stderr). The CLI's Output is one; the demo passes its own.
 */
export interface Reporter {
  /** Secrets found while running (the process-wide scrubber, or any set that takes them). */
  secrets: { add(secret: string): unknown };
  warn(text: string): void;
}
