import type { Command } from 'commander';
import { withCommon, outputFor } from '../common.js';
import type { Io } from '../io.js';
import type { InitOptions } from '../commands/init.js';

export function registerInit(program: Command, io: Io): void {
  withCommon(
    program
      .command('init')
      .summary('write a starting manifest from a live database, tables grouped into proposed services')
      .description(
        'Reads the catalog of the database at --from and writes a starting manifest (plans/split.yaml, or -o) ' +
          'that groups its tables into proposed services: by foreign keys, cut at tables that many others reference ' +
          '(like users), and by name prefixes. Each group says why; each service lists the foreign keys it would drop. ' +
          'Bookkeeping tables (migrations, typeorm_metadata, legacy_*, *_old...) and views over several services are ' +
          'proposed for ignore. The URL is never written into the file: the manifest reads it from a variable named ' +
          'after the database, which init prints.',
      )
      .requiredOption('--from <url>', 'the shared database to read, postgres://user:password@host:port/database')
      .option('-o, --output <file>', 'manifest to write, or - for stdout (default: the -m path, plans/split.yaml)')
      .option('--schema <list>', 'comma-separated schemas to split (default public)')
      .option('--force', 'overwrite the manifest if it exists')
      .addHelpText(
        'after',
        '\nExamples:\n  $ cloudphone-split init --from postgres://app@localhost:5432/cloudphone_core\n' +
          '  $ cloudphone-split init --from "$DATABASE_URL" --schema public,billing -o plans/split.yaml --force\n' +
          '  $ cloudphone-split init --from "$DATABASE_URL" --json -o - | jq .services',
      ),
  ).action(async (opts: InitOptions) => {
    const { initCommand } = await import('../commands/init.js');
    const out = outputFor(opts, io);
    io.exit((await initCommand(opts, out)).code);
  });
}
