/**
 * What a run handler may say while it works: the secrets to hide from everything printed,
 * and diagnostics (stderr). The CLI's Output is one; the demo passes its own.
 */
export interface Reporter {
  secrets: Set<string>;
  warn(text: string): void;
}
