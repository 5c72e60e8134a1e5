import type { Command } from 'commander';
import { withCommon, outputFor } from '../common.js';
import type { Io } from '../io.js';
import type { SnapshotOptions } from '../commands/snapshot.js';

export function registerSnapshot(program: Command, io: Io): void {
  withCommon(
    program
      .command('snapshot')
      .summary('write the source catalog as JSON, for `plan --schema`')
      .description('Writes the catalog of the manifest\'s source schemas (tables, types, functions, sequences, views, sizes) as JSON,\nso that `plan --schema <file>` can plan in CI without access to the database.')
      .requiredOption('-o, --output <file>', 'snapshot file to write'),
  ).action(async (opts: SnapshotOptions) => {
    const { snapshotCommand } = await import('../commands/snapshot.js');
    io.exit(await snapshotCommand(opts, outputFor(opts, io), io.env));
  });
}
