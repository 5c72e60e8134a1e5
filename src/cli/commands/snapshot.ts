import type { CommonOptions } from '../common.js';
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
