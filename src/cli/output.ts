import { Chalk, type ChalkInstance } from 'chalk';
import { scrub } from '../pg/url.js';

/**
 * Where a command writes. With `--json`, stdout carries only JSON and every
 * human message goes to stderr. Every string passes through `scrub` first, so a
 * secret that reached an error message is still never printed.
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
  secrets: Set<string>;
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
  stdout: Output['stdout'] = process.stdout,
  stderr: Output['stderr'] = process.stderr,
  env: NodeJS.ProcessEnv = process.env,
): Output {
  const interactive = Boolean(stdout.isTTY) && !opts.json;
  const color = opts.color !== false && !('NO_COLOR' in env && env.NO_COLOR !== '') && interactive && env.TERM !== 'dumb';
  const secrets = new Set<string>();
  const clean = (s: string) => scrub(s, secrets);
  const out: Output = {
    json: Boolean(opts.json),
    color,
    verbose: Boolean(opts.verbose),
    interactive,
    c: new Chalk({ level: color ? 1 : 0 }),
    secrets,
    stdout,
    stderr,
    say: (text) => (opts.json ? stderr : stdout).write(`${clean(text)}\n`),
    warn: (text) => stderr.write(`${clean(text)}\n`),
    data: (value) => stdout.write(`${clean(JSON.stringify(value, null, 2))}\n`),
  };
  return out;
}
