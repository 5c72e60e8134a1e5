import { type Command, Option } from 'commander';
import { withCommon, outputFor } from '../common.js';
import type { Io } from '../io.js';
import { BadInputError, ExitCode } from '../../errors.js';
import type { RetentionListOptions, RetentionPruneOptions } from '../commands/retention.js';

function parseNow(value: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new BadInputError(`--now takes an ISO 8601 date and time (e.g. 2030-01-31T03:00:00Z), not ${value}`);
  return d;
}

/**
 * The subcommand's options, with the common ones also accepted before the subcommand
 * (`retention -m x.yaml prune`): a value given there wins over the subcommand's default.
 */
function mergedOptions<T extends object>(cmd: Command): T {
  const own = cmd.opts() as Record<string, unknown>;
  const parent = cmd.parent;
  if (!parent) return own as T;
  for (const [key, value] of Object.entries(parent.opts() as Record<string, unknown>)) {
    const mine = cmd.getOptionValueSource(key);
    if ((mine === undefined || mine === 'default') && parent.getOptionValueSource(key) === 'cli') own[key] = value;
  }
  return own as T;
}

const nowOption = () => new Option('--now <iso>', 'the time to compare expiries with (default: now)').argParser(parseNow);

export function registerRetention(program: Command, io: Io): void {
  const retention = withCommon(program.command('retention'))
    .summary('list the backups kept after splits, and drop the expired ones')
    .description(
      'After a split, the old database is kept read-only as a backup until retention.days have passed.\n' +
        '`retention list` shows every backup of the journal; `retention prune --yes` drops the expired backups of verified\n' +
        'splits (archiving each with pg_dump first when retention.archive is set). Run prune from cron or a Kubernetes CronJob.',
    );
  withCommon(
    retention.command('list').summary('the backups and when each expires').description('Lists every backup the journal records, with its expiry and state (scheduled, expired, pruned, restored).'),
  )
    .addOption(nowOption())
    .action(async (_opts: RetentionListOptions, cmd: Command) => {
      const opts = mergedOptions<RetentionListOptions>(cmd);
      const { retentionListCommand, renderList } = await import('../commands/retention.js');
      const out = outputFor(opts, io);
      const rows = await retentionListCommand(opts, out, io.env);
      if (out.json) out.data(rows);
      else renderList(rows, opts.now ?? new Date(), out);
      io.exit(0);
    });
  withCommon(
    retention
      .command('prune')
      .summary('drop the expired backups (only with --yes)')
      .description(
        'Drops the expired backups of the manifest\'s split that a `verify --checksums` run passed after the split, and only\n' +
          'those the journal marked: each is re-checked first (same database, still carrying the split\'s comment, no session\n' +
          'in it, provably no write since, no row that was not moved unless archived; the archive is read back). Without\n' +
          '--yes it lists what it would drop and exits 2 (on a terminal it asks first). With retention.archive set, each is archived with pg_dump -Fc first;\n' +
          'without a pg_dump able to read the server, nothing is dropped unless --no-archive.',
      )
      .option('--yes', 'really drop them')
      .addOption(nowOption())
      .option('--no-archive', 'drop without writing the pg_dump archive of retention.archive')
      .addHelpText('after', '\nExample (cron, every night at 03:00):\n  0 3 * * * cd /srv/split && cloudphone-split retention prune --yes -m plans/split.yaml >> /var/log/cloudphone-split.log 2>&1'),
  ).action(async (_opts: RetentionPruneOptions, cmd: Command) => {
    const opts = mergedOptions<RetentionPruneOptions>(cmd);
    const [{ retentionPruneCommand, renderPrune }, { consent, isInteractive }] = await Promise.all([import('../commands/retention.js'), import('../consent.js')]);
    const out = outputFor(opts, io);
    let result = await retentionPruneCommand(opts, out, io.env);
    const due = result.report.backups.filter((b) => b.action === 'would-drop').length;
    if (due > 0 && !opts.yes && isInteractive(io)) {
      // On a terminal: show what is due, ask once, then prune again (every fact re-checked).
      renderPrune(result.report, out);
      const approved = await consent(io, false, { action: 'retention prune drops databases', question: `Drop ${due} expired backup${due === 1 ? '' : 's'}?` });
      if (!approved) {
        out.warn('Nothing was dropped.');
        io.exit(ExitCode.ok);
        return;
      }
      result = await retentionPruneCommand({ ...opts, yes: true }, out, io.env);
    }
    const { code, report, message } = result;
    if (out.json) out.data(report);
    else renderPrune(report, out);
    if (message) out.warn(`${code === ExitCode.ok ? '' : out.c.red('error: ')}${message}`);
    io.exit(code);
  });
}

