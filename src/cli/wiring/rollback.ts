import { Option, type Command } from 'commander';
import { BadInputError } from '../../errors.js';
import { withCommon, withServices, outputFor } from '../common.js';
import type { Io } from '../io.js';
import type { RollbackCommandOptions } from '../commands/rollback.js';

export function registerRollback(program: Command, io: Io): void {
  withServices(withCommon(
    program
      .command('rollback')
      .summary('undo a split: before cutover, or after it through reverse replication')
      .description(
        'Drops the databases and roles the split created and removes the fence from the old database. Once config files were\n' +
          'repointed, it also restores them byte for byte and makes the old database writable again, but only when no table of\n' +
          'the new databases changed since the copy (exit 1 naming the tables otherwise; nothing is changed). Stop the services\n' +
          'writing to the new databases first. After an online cutover it goes through reverse replication instead: the new\n' +
          'databases are fenced, the old one receives every write made to them, its sequences are set past theirs, it is\n' +
          'unfenced, the config files are restored and the reverse replication is dropped; the new databases are kept, fenced.\n' +
          'Resumable: rerun it after a failure. Asks before changing anything unless --yes.',
      )
      .option('--yes', 'do not ask for confirmation (required when not on a terminal)')
      .addOption(
        new Option(
          '--discard-source-writes <tables>',
          'after an online cutover: let rollback replace these tables\' rows in the old database although they were written there behind the fence since cutover (comma-separated schema.table, as the refusal names them)',
        ).argParser((v: string) => {
          const names = [...new Set(v.split(',').map((s) => s.trim()).filter((s) => s.length > 0))];
          if (names.length === 0) throw new BadInputError('--discard-source-writes takes one or more tables, e.g. --discard-source-writes public.audit_log');
          return names;
        }),
      )
      .addHelpText(
        'after',
        '\nExamples:\n  $ cloudphone-split rollback -m plans/split.yaml\n  $ cloudphone-split rollback --yes --json\n' +
          '  $ cloudphone-split rollback --service billing-service --yes\n' +
          '  $ cloudphone-split rollback --yes --discard-source-writes public.audit_log\n' +
          '\nWith --service (a split applied service by service, before its last service): drops only those services\' databases\n' +
          'and roles, restores only their config files and lifts the fence from their tables only; the other services stay\n' +
          'applied. Refused (exit 1, nothing changed) when another applied service copied or denormalized from their tables\n' +
          'or repointed the same config file, and once the whole split is applied (the old database is then retired as a whole).\n' +
          'Online splits before cutover: drops those services\' subscriptions, slots, publications and replication roles, then\n' +
          'their databases and roles; the other services keep replicating. After cutover (or once it started) --service is\n' +
          'refused (exit 2): the way back through reverse replication covers every service at once; roll back the whole split.\n' +
          '\nAfter an online cutover, the tables cutover copied (no primary key, UNLOGGED: reverse replication cannot carry them)\n' +
          'get the new database\'s rows copied back. Before that, each is compared with what the old database held at cutover\n' +
          '(count and checksum; again with its lock held, when its rows are replaced): one written behind the fence since refuses\n' +
          'the rollback (exit 1, naming the tables); save those rows, then rerun with --discard-source-writes naming them.',
      ),
  ), 'roll back only these services; e.g. --service billing-service').action(async (opts: RollbackCommandOptions) => {
    const { rollbackCommand, renderRollback } = await import('../commands/rollback.js');
    const out = outputFor(opts, io);
    const { code, report } = await rollbackCommand(opts, out, io.env, io);
    if (out.json) out.data(report);
    else renderRollback(report, out);
    io.exit(code);
  });
}
