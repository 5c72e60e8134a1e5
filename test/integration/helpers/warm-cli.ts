import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { assertBuilt, logCliRun, REPO_ROOT, type CliResult, type SpawnedCli } from './cli.js';

const CHILD = fileURLToPath(new URL('./warm-cli-child.mjs', import.meta.url));
const BUILT_MAIN = fileURLToPath(new URL('../../../dist/src/cli/main.js', import.meta.url));

/**
 * The built CLI in a process of its own, started ahead: it loads its modules while the
 * test does something else, and runs only when `start` gives it its arguments. What
 * runs is what bin/cloudphone-split.js runs (same node flags, same main), so a SIGKILL
 * lands in the same code; only the second or so of loading is off the clock.
 */
export class WarmCli {
  private readonly child;
  private readonly closed: Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>;
  private started = false;
  private stdout = '';
  private stderr = '';

  constructor(env: NodeJS.ProcessEnv) {
    assertBuilt();
    logCliRun('spawned', ['(started ahead)']);
    this.child = spawn(process.execPath, ['--max-semi-space-size=2', CHILD, BUILT_MAIN], { env, cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    // A process never started is ended by discard(): its closed pipe is no error of the test.
    this.child.stdin.on('error', () => undefined);
    this.child.stdout.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.closed = new Promise((resolve, reject) => {
      this.child.on('error', reject);
      this.child.on('close', (exitCode, signal) => resolve({ exitCode, signal }));
    });
  }

  /** Runs the CLI with `args` (once). */
  start(args: string[]): SpawnedCli {
    if (this.started) throw new Error('a WarmCli runs once');
    this.started = true;
    const child = this.child;
    const done: Promise<CliResult & { signal: NodeJS.Signals | null; exitCode: number | null }> = this.closed.then(({ exitCode, signal }) => ({
      code: exitCode ?? -1,
      exitCode,
      signal,
      stdout: this.stdout,
      stderr: this.stderr,
    }));
    child.stdin.end(`${JSON.stringify(args)}\n`);
    return { child, done, output: () => ({ stdout: this.stdout, stderr: this.stderr }) };
  }

  /** Ends a process that was never started (it exits on the end of its input). */
  async discard(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.child.stdin.end();
    await this.closed.catch(() => undefined);
  }
}
