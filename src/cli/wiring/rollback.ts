import type { Command } from 'commander';
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
      .addHelpText(
        'after',
        '\nExamples:\n  $ cloudphone-split rollback -m plans/split.yaml\n  $ cloudphone-split rollback --yes --json\n' +
          '  $ cloudphone-split rollback --service billing-service --yes\n' +
          '\nWith --service (a split applied service by service, before its last service): drops only those services\' databases\n' +
          'and roles, restores only their config files and lifts the fence from their tables only; the other services stay\n' +
          'applied. Refused (exit 1, nothing changed) when another applied service copied or denormalized from their tables\n' +
          'or repointed the same config file, and once the whole split is applied (the old database is then retired as a whole).\n' +
          'Online splits before cutover: drops those services\' subscriptions, slots, publications and replication roles, then\n' +
          'their databases and roles; the other services keep replicating. After cutover (or once it started) --service is\n' +
          'refused (exit 2): the way back through reverse replication covers every service at once; roll back the whole split.',
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
