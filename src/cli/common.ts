import { Command, Option } from 'commander';
import { parseSplitSize, SPLIT_ENV } from '../plan/copy-ranges.js';
import { BadInputError } from '../errors.js';
import { parseServiceList } from '../plan/service-selection.js';
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

/**
 * `--split-tables-larger-than <size>` (plan, apply): which moved tables are copied in key
 * ranges, each its own journaled step. Same values as CLOUDPHONE_SPLIT_TABLES_LARGER_THAN,
 * which it overrides for this run; a bad size is bad input (exit 2).
 */
export function withSplitThreshold(cmd: Command): Command {
  return cmd.addOption(
    new Option('--split-tables-larger-than <size>', `copy a moved table larger than this in key ranges, each range its own step (512MB, 2GB, off; default 8GB, or ${SPLIT_ENV})`).argParser((v) => {
      if (parseSplitSize(v) === null) throw new BadInputError(`--split-tables-larger-than takes a size such as 512MB, 2GB, a number of bytes, or off, not ${v}`);
      return v;
    }),
  );
}

/** The environment a run plans with: the flag, when given, in place of the variable. */
export function splitEnv(env: NodeJS.ProcessEnv, opts: { splitTablesLargerThan?: string }): NodeJS.ProcessEnv {
  return opts.splitTablesLargerThan === undefined ? env : { ...env, [SPLIT_ENV]: opts.splitTablesLargerThan };
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

/** `--service a,b` (apply, verify, rollback): only those services of the split. */
export function withServices(cmd: Command, what: string): Command {
  return cmd.addOption(
    new Option('--service <names>', `${what} (comma-separated service names of the manifest)`).argParser((v: string) => {
      const names = parseServiceList(v);
      if (names.length === 0) throw new BadInputError('--service takes one or more service names, e.g. --service billing-service,device-service');
      return names;
    }),
  );
}
