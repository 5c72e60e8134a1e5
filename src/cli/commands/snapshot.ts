import { Command } from 'commander';
import { withCommon, outputFor, type CommonOptions } from '../common.js';
import type { Io } from '../io.js';
import { loadSplit, readLiveCatalog } from '../../plan/make.js';
import { writeSnapshot } from '../../catalog/snapshot.js';
import type { Output } from '../output.js';

export interface SnapshotOptions extends CommonOptions {
  output: string;
}

export async function snapshotCommand(opts: SnapshotOptions, out: Output, env: NodeJS.ProcessEnv): Promise<number> {
  const split = await loadSplit(opts.manifest, env, { source: true });
  for (const s of split.secrets) out.secrets.add(s);
  const catalog = await readLiveCatalog(split.servers.source!, split.manifest.source.schemas);
  await writeSnapshot(opts.output, catalog);
  if (out.json) out.data({ file: opts.output, tables: catalog.tables.length, schemas: catalog.schemas });
  else out.say(`Wrote the catalog of ${catalog.tables.length} tables (${catalog.schemas.join(', ')}) to ${opts.output}; plan from it with: cloudphone-split plan --schema ${opts.output}`);
  return 0;
}

export function registerSnapshot(program: Command, io: Io): void {
  withCommon(
    program
      .command('snapshot')
      .summary('write the source catalog as JSON, for `plan --schema`')
      .description('Writes the catalog of the manifest\'s source schemas (tables, types, functions, sequences, views, sizes) as JSON,\nso that `plan --schema <file>` can plan in CI without access to the database.')
      .requiredOption('-o, --output <file>', 'snapshot file to write'),
  ).action(async (opts: SnapshotOptions) => {
    io.exit(await snapshotCommand(opts, outputFor(opts, io), io.env));
  });
}
