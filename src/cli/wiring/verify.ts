import type { Command } from 'commander';
import { withCommon, withFormat, withServices, outputFor } from '../common.js';
import type { Io } from '../io.js';
import type { VerifyCommandOptions } from '../commands/verify.js';

export function registerVerify(program: Command, io: Io): void {
  withServices(withFormat(withCommon(
    program
      .command('verify')
      .summary('compare source and targets: rows, checksums, schema, sequences, fence, isolation, config')
      .description(
        'Checks, for every service of the last applied plan: row counts of every moved and copied table; with --checksums an\n' +
          'order-independent checksum of every row (and the keys of the rows that differ); schema parity less the dropped\n' +
          'foreign keys; sequences at or past the source; config entries pointing at the new databases; each service role\n' +
          'connecting to its own database only; the fence on the source; with --health each health URL answering 2xx.\n' +
          'Exit 1 on any difference, with every difference listed.',
      )
      .option('--checksums', 'also compare a checksum of every row of every table')
      .option('--health', "also GET each service's health URL (2xx within 5 s)")
      .option('--jobs <n>', 'tables compared at once', (v) => Math.max(1, Number(v) || 1))
      .addHelpText(
        'after',
        '\nExamples:\n  $ cloudphone-split verify --checksums\n' +
          '  $ cloudphone-split verify --service billing-service     # after apply --service billing-service: only its checks\n' +
          '\nA run with --service checks only those services; it is not recorded as the verification `retention prune` needs.',
      ),
  )), 'check only these services; e.g. --service billing-service').action(async (opts: VerifyCommandOptions) => {
    const [{ verifyCommand }, { renderVerify, verifyJson }, { verifyMarkdown }] = await Promise.all([
      import('../commands/verify.js'),
      import('../views/verify.js'),
      import('../views/verify-markdown.js'),
    ]);
    const out = outputFor(opts, io);
    const { code, result } = await verifyCommand(opts, out, io.env);
    if (out.json) out.data(verifyJson(result));
    else if (opts.format === 'markdown') out.say(verifyMarkdown(result));
    else renderVerify(result, out);
    io.exit(code);
  });
}
