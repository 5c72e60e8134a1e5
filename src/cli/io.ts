import type { Output } from './output.js';

/** What a command may touch of the process: its three streams, its environment and its exit. */
export interface Io {
  /** Where a question's answer is read; a terminal only when `isTTY` is true. */
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: Output['stdout'];
  stderr: Output['stderr'];
  env: NodeJS.ProcessEnv;
  exit(code: number): void;
}
