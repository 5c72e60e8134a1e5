import { Command, Option } from 'commander';
import { makeOutput, type Output } from './output.js';

export interface CommonOptions {
  manifest: string;
  json?: boolean;
  color?: boolean;
  verbose?: boolean;
}

export const DEFAULT_MANIFEST = 'plans/split.yaml';

/** The options every command takes (SPEC §2). */
export function withCommon(cmd: Command): Command {
  return cmd
    .addOption(new Option('-m, --manifest <file>', 'the split manifest').default(DEFAULT_MANIFEST))
    .option('--json', 'machine output on stdout (human messages go to stderr)')
    .option('--no-color', 'no colors or spinners (also: NO_COLOR=1, or stdout not a terminal)')
    .option('-v, --verbose', 'more detail, and stack traces on errors');
}

/** `--format text|markdown` (plan, verify): Markdown is a compact report for a pull-request comment. */
export function withFormat(cmd: Command): Command {
  return cmd.addOption(
    new Option('--format <format>', 'text, or markdown: a compact report for a pull-request comment (stdout; other messages go to stderr)').choices(['text', 'markdown']).default('text'),
  );
}

/** Set by main for the error handler: the output of the command that is running. */
export const current: { out: Output | null } = { out: null };

export function outputFor(opts: CommonOptions, io: { stdout: Output['stdout']; stderr: Output['stderr']; env: NodeJS.ProcessEnv }): Output {
  const out = makeOutput(opts, io.stdout, io.stderr, io.env);
  current.out = out;
  return out;
}

/** What a command handler returns: main turns it into the exit code. */
export type CommandResult = number;
