import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { expect } from 'vitest';
import { staleBuild } from './stale-build.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable, Writable } from 'node:stream';
import { loadCommands, main } from '../../../src/cli/main.js';

// The in-process CLI's commands load with the test file that imports this, not inside a test's time limit.
await loadCommands();

/** The repository root and the built CLI (`npm run build` writes dist/, which the bin imports). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI_BIN = fileURLToPath(new URL('../../../bin/cloudphone-split.js', import.meta.url));
const BUILT_MAIN = fileURLToPath(new URL('../../../dist/src/cli/main.js', import.meta.url));

/**
 * CPS_CLI_LOG=<file>: one line per CLI run (test file, in-process or spawned, command),
 * to count what each test file runs.
 */
export function logCliRun(how: 'in-process' | 'spawned', args: readonly string[]): void {
  const file = process.env.CPS_CLI_LOG;
  if (file) appendFileSync(file, `${expect.getState().testPath ?? '?'}\t${how}\t${args.find((a) => !a.startsWith('-')) ?? ''}\n`);
}

/** How one command ended: its exit code and everything it wrote. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A writable stream that keeps what was written, as text. */
export class TextSink extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.text += chunk.toString();
    cb();
  }
}

/** Where the in-process CLI runs: no terminal (CI, a pipe), or a terminal where someone types `answer`. */
export type Session = { terminal: false } | { terminal: true; answer: string };

/**
 * Runs the CLI in this process (`main(argv, io)`), with `env` as its whole environment.
 * By default without a terminal, as in CI: stdin, stdout and stderr are not TTYs. With
 * `{ terminal: true, answer }` all three say they are, and stdin holds the typed answer.
 * Never run two of these at once in one process: the CLI keeps its current output in a module.
 */
export async function runCli(args: string[], env: NodeJS.ProcessEnv, session: Session = { terminal: false }): Promise<CliResult> {
  logCliRun('in-process', args);
  const stdout = new TextSink();
  const stderr = new TextSink();
  const stdin: Readable & { isTTY?: boolean } = Readable.from(session.terminal ? [`${session.answer}\n`] : []);
  if (session.terminal) {
    stdin.isTTY = true;
    stdout.isTTY = true;
    stderr.isTTY = true;
  }
  const code = await main(['node', 'cloudphone-split', ...args], { stdin, stdout, stderr, env });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

let builtChecked = false;

/**
 * Fails loudly when the CLI was not built, or was built before the last change to src/ or
 * migrations/ (the integration tests spawn dist/: a stale build would test old code).
 */
export function assertBuilt(): void {
  if (builtChecked) return;
  if (!existsSync(BUILT_MAIN)) throw new Error(`${BUILT_MAIN} is missing: run \`npm run build\` first (npm test does it)`);
  const stale = staleBuild(BUILT_MAIN, [join(REPO_ROOT, 'src'), join(REPO_ROOT, 'migrations')]);
  if (stale) throw new Error(`${stale}: the spawned CLI would run stale code. Run \`npm run build\` first (npm test and npm run test:integration do it)`);
  builtChecked = true;
}

/** A spawned CLI: the child, and a promise of how it ended (code null when killed by a signal). */
export interface SpawnedCli {
  child: ChildProcess;
  done: Promise<CliResult & { signal: NodeJS.Signals | null; exitCode: number | null }>;
  output(): { stdout: string; stderr: string };
}

/** Starts the built CLI as a separate process (so that it can be killed with SIGKILL). */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv, cwd = REPO_ROOT): SpawnedCli {
  assertBuilt();
  logCliRun('spawned', args);
  const child = spawn(process.execPath, [CLI_BIN, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult & { signal: NodeJS.Signals | null; exitCode: number | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (exitCode, signal) => resolve({ code: exitCode ?? -1, exitCode, signal, stdout, stderr }));
  });
  return { child, done, output: () => ({ stdout, stderr }) };
}

/** Runs the built CLI to its end. */
export async function runSpawned(args: string[], env: NodeJS.ProcessEnv, cwd = REPO_ROOT): Promise<CliResult> {
  const { done } = spawnCli(args, env, cwd);
  const r = await done;
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}
