import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where the PostgreSQL 15 server and client programs are (Debian's layout). */
export const PG15_BIN = '/usr/lib/postgresql/15/bin';
const TIME = '/usr/bin/time';

/** How a command ended. `peakRssKb` is the child's maximum resident set size when it was measured. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
  peakRssKb: number | null;
}

export interface CommandOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Measure the peak RSS with /usr/bin/time -v (falls back to polling /proc/<pid>/status). */
  measureRss?: boolean;
  /** Throw when the exit code is not 0 (default true). */
  check?: boolean;
}

const KEEP = 64 * 1024;

function tail(text: string): string {
  return text.length > KEEP ? text.slice(-KEEP) : text;
}

/** Polls VmHWM of a running process (the kernel's peak RSS); used when /usr/bin/time is missing. */
function pollHighWater(pid: number, into: { kb: number }): NodeJS.Timeout {
  return setInterval(() => {
    readFile(`/proc/${pid}/status`, 'utf8')
      .then((s) => {
        const m = /VmHWM:\s+(\d+) kB/.exec(s);
        if (m) into.kb = Math.max(into.kb, Number(m[1]));
      })
      .catch(() => undefined);
  }, 50);
}

/** Runs a program (no shell), timing it; output is kept (the last 64 KiB of each stream). */
export async function runCommand(cmd: string, args: string[], opts: CommandOptions = {}): Promise<CommandResult> {
  const useTime = opts.measureRss === true && existsSync(TIME);
  const dir = useTime ? await mkdtemp(join(tmpdir(), 'cps-bench-time-')) : null;
  const timeFile = dir ? join(dir, 'time.txt') : null;
  const [file, argv] = timeFile ? [TIME, ['-v', '-o', timeFile, cmd, ...args]] : [cmd, args];
  const started = performance.now();
  const hwm = { kb: 0 };
  const result = await new Promise<Omit<CommandResult, 'peakRssKb' | 'ms'>>((resolve, reject) => {
    const child = spawn(file, argv, { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = opts.measureRss && !useTime && child.pid ? pollHighWater(child.pid, hwm) : null;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout = tail(stdout + d.toString())));
    child.stderr.on('data', (d: Buffer) => (stderr = tail(stderr + d.toString())));
    child.on('error', reject);
    child.on('close', (code) => {
      if (timer) clearInterval(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
  const ms = performance.now() - started;
  let peakRssKb: number | null = hwm.kb > 0 ? hwm.kb : null;
  if (timeFile && dir) {
    const text = await readFile(timeFile, 'utf8').catch(() => '');
    const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(text);
    if (m) peakRssKb = Number(m[1]);
    await rm(dir, { recursive: true, force: true });
  }
  if (opts.check !== false && result.code !== 0) {
    throw new Error(`${cmd} ${args.slice(0, 6).join(' ')}${args.length > 6 ? ' ...' : ''} exited ${result.code}:\n${result.stderr || result.stdout}`);
  }
  return { ...result, ms, peakRssKb };
}

/** Runs a bash script with `set -eo pipefail`; values reach it through `env` (never spliced into the script). */
export function runScript(script: string, env: NodeJS.ProcessEnv, opts: Omit<CommandOptions, 'env'> = {}): Promise<CommandResult> {
  return runCommand('bash', ['-c', `set -eo pipefail\n${script}`], { ...opts, env });
}

/** A PostgreSQL 15 client program (psql, pg_dump, pg_restore). */
export function pgBin(name: string): string {
  return join(PG15_BIN, name);
}

/** Runs `jobs` async tasks at a time over `items`, in order; the first error stops new tasks and is thrown. */
export async function mapLimit<T>(items: readonly T[], jobs: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (failed === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
  if (failed !== undefined) throw failed;
}
