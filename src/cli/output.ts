import { Chalk, type ChalkInstance } from 'chalk';
import { scrubber, type Scrubber } from '../secrets/scrubber.js';
import { scrubbingStream } from '../secrets/scrubbing-stream.js';

/**
 * Where a command writes. With `--json`, stdout carries only JSON and every
 * human message goes to stderr. Both streams write through the process's scrubber,
 * so a secret that reached a message, an event or a relayed output is never printed.
 */
export interface Output {
  json: boolean;
  color: boolean;
  verbose: boolean;
  /** stdout is a terminal: spinners and bars allowed. */
  interactive: boolean;
  c: ChalkInstance;
  /** Human text: stdout normally, stderr under --json. */
  say(text: string): void;
  /** Diagnostics: always stderr. */
  warn(text: string): void;
  /** Machine output: stdout, one JSON document. */
  data(value: unknown): void;
  /** The process's scrubber: add a secret here as soon as it is known. */
  secrets: Scrubber;
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface OutputOptions {
  json?: boolean;
  color?: boolean;
  verbose?: boolean;
}

export function makeOutput(
  opts: OutputOptions,
  rawStdout: Output['stdout'] = process.stdout,
  rawStderr: Output['stderr'] = process.stderr,
  env: NodeJS.ProcessEnv = process.env,
): Output {
  const stdout = scrubbingStream(rawStdout, scrubber);
  const stderr = scrubbingStream(rawStderr, scrubber);
  const interactive = Boolean(stdout.isTTY) && !opts.json;
  const color = opts.color !== false && !('NO_COLOR' in env && env.NO_COLOR !== '') && interactive && env.TERM !== 'dumb';
  const out: Output = {
    json: Boolean(opts.json),
    color,
    verbose: Boolean(opts.verbose),
    interactive,
    c: new Chalk({ level: color ? 1 : 0 }),
    secrets: scrubber,
    stdout,
    stderr,
    say: (text) => (opts.json ? stderr : stdout).write(`${text}\n`),
    warn: (text) => stderr.write(`${text}\n`),
    data: (value) => stdout.write(`${JSON.stringify(value, null, 2)}\n`),
  };
  return out;
}
