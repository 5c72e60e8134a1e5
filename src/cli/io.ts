import type { Output } from './output.js';

/** What a command may touch of the process: its two streams, its environment and its exit. */
export interface Io {
  stdout: Output['stdout'];
  stderr: Output['stderr'];
  env: NodeJS.ProcessEnv;
  exit(code: number): void;
}
