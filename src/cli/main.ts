import { Command, CommanderError } from 'commander';
import { SplitError, ExitCode } from '../errors.js';
import { TOOL_VERSION } from '../version.js';
import { current } from './common.js';
import { makeOutput } from './output.js';
import type { Io } from './io.js';
import { scrubber } from '../secrets/scrubber.js';
import { scrubbingStream } from '../secrets/scrubbing-stream.js';
import { registerRunSecrets } from './run-secrets.js';
import { registerPlan } from './wiring/plan.js';
import { registerSnapshot } from './wiring/snapshot.js';
import { registerApply } from './wiring/apply.js';
import { registerCutover } from './wiring/cutover.js';
import { registerStatus } from './wiring/status.js';
import { registerInit } from './wiring/init.js';
import { registerVerify } from './wiring/verify.js';
import { registerDemo } from './wiring/demo.js';
import { registerRollback } from './wiring/rollback.js';
import { registerRetention } from './wiring/retention.js';

export type { Io } from './io.js';

/**
 * Each command loads its handler (and the libraries behind it) only when it runs, so that
 * `--version`, `--help` and every command start without loading the others. A process
 * started ahead of its use calls this to have them all loaded before it runs.
 */
export async function loadCommands(): Promise<void> {
  await Promise.all([
    import('./commands/plan.js'),
    import('./commands/snapshot.js'),
    import('./commands/apply.js'),
    import('./commands/cutover.js'),
    import('./commands/status.js'),
    import('./commands/init.js'),
    import('./commands/verify.js'),
    import('./commands/rollback.js'),
    import('./commands/retention.js'),
    import('./views/verify.js'),
    import('./views/verify-markdown.js'),
    import('./consent.js'),
  ]);
}

export function buildProgram(io: Io): Command {
  const program = new Command('cloudphone-split')
    .version(TOOL_VERSION)
    .description('Split one shared PostgreSQL database into one database per service: planned, resumable, verified.')
    // Examples and exit codes are laid out by hand: help text added after is printed as written, never re-wrapped.
    .addHelpText(
      'after',
      '\nThe usual path:\n' +
        '  cloudphone-split demo             the whole story on an embedded server\n' +
        '  cloudphone-split plan             review it (writes plans/<name>.plan.json)\n' +
        '  cloudphone-split apply plans/<name>.plan.json\n' +
        '  cloudphone-split verify --checksums\n\n' +
        'Exit codes:\n' +
        '  0 ok                   3 a step failed: rerun apply to resume\n' +
        '  1 difference found,    4 stale plan: the source changed since the plan\n' +
        '    or plan blocked      5 another apply of the split holds the lock\n' +
        '  2 bad input\n\n' +
        'Each command explains itself: cloudphone-split <command> --help',
    )
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride();
  registerPlan(program, io);
  registerSnapshot(program, io);
  registerApply(program, io);
  registerCutover(program, io);
  registerStatus(program, io);
  registerInit(program, io);
  registerVerify(program, io);
  registerDemo(program, io);
  registerRollback(program, io);
  registerRetention(program, io);
  flowDescriptions(program.commands);
  return program;
}

/**
 * Descriptions are written in source lines of any length: a single line break inside
 * a sentence becomes a space, so that commander wraps the text to the terminal once.
 * Blank lines and indented lines (examples, lists) keep their breaks.
 */
function flowDescriptions(commands: readonly Command[]): void {
  for (const cmd of commands) {
    cmd.description(cmd.description().replace(/([^\n])\n(?=[^\n ])/g, '$1 '));
    flowDescriptions(cmd.commands);
  }
}

const PRIVILEGE_HINT =
  "the role in the manifest's URL lacks a privilege this command needs (README, \"What each command needs from the database role\", lists them): grant it, or run as a role that has it; nothing more was changed";

/** Prints an error as one clear message (and the fix); stack traces only with --verbose. */
export function reportError(err: unknown, io: Io): number {
  const out = current.out ?? makeOutput({}, io.stdout, io.stderr, io.env);
  // A privilege the server refused (SQLSTATE 42501) that no step named: the role's configuration, as a rejected password is.
  const refused = !(err instanceof SplitError) && (err as { code?: unknown } | null)?.code === '42501';
  const code = err instanceof SplitError ? err.exitCode : refused ? ExitCode.badInput : ExitCode.stepFailed;
  const message = err instanceof Error ? err.message : String(err);
  const hint = err instanceof SplitError ? err.hint : refused ? PRIVILEGE_HINT : undefined;
  const lines = [`${out.c.red('error:')} ${message}`];
  if (hint) lines.push(`${out.c.yellow('fix:')} ${hint}`);
  if (out.verbose && err instanceof Error && err.stack) {
    lines.push(err.stack);
    if (err.cause instanceof Error && err.cause.stack) lines.push(`caused by: ${err.cause.stack}`);
  }
  scrubbingStream(io.stderr, scrubber).write(`${lines.join('\n')}\n`);
  if (out.json) {
    scrubbingStream(io.stdout, scrubber).write(`${JSON.stringify({ error: { message, exitCode: code, hint: hint ?? null } })}\n`);
  }
  return code;
}

export async function main(argv: string[], io?: Partial<Io>): Promise<number> {
  let code = 0;
  const env = io?.env ?? process.env;
  // Before anything is parsed or printed: every line out is scrubbed from the first.
  registerRunSecrets(argv, env, scrubber);
  const full: Io = {
    stdin: io?.stdin ?? process.stdin,
    stdout: scrubbingStream(io?.stdout ?? process.stdout, scrubber),
    stderr: scrubbingStream(io?.stderr ?? process.stderr, scrubber),
    env,
    exit: (c) => {
      code = c;
    },
  };
  current.out = null;
  const program = buildProgram(full);
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return ExitCode.badInput;
    }
    return reportError(err, full);
  }
}
