import { mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CommonOptions } from '../common.js';
import type { Output } from '../output.js';
import { BadInputError, ExitCode } from '../../errors.js';
import { normalizeConnection } from '../../conn/connection.js';
import { connectionSecrets } from '../../secrets/connection-secrets.js';
import { manifestProblems } from '../../init/check-manifest.js';
import { proposeSplit, type SplitProposal } from '../../init/propose-split.js';
import { readSourceCatalog } from '../../init/read-source.js';
import { withoutMovedTables } from '../../init/moved-tables.js';
import { renderManifest } from '../../init/render-manifest.js';
import { proposalJson, proposalSummary } from '../../init/summary.js';

export interface InitOptions extends CommonOptions {
  from: string;
  /** The manifest to write; `-` prints it on stdout. Default: the `-m` path. */
  output?: string;
  /** Comma-separated schemas; default public. */
  schema?: string;
  force?: boolean;
}

/** `--schema a,b` → [a, b], each once; default [public]. */
export function parseSchemas(value: string | undefined): string[] {
  if (value === undefined) return ['public'];
  const list = [...new Set(value.split(',').map((s) => s.trim()).filter((s) => s !== ''))];
  if (list.length === 0) throw new BadInputError(`--schema ${JSON.stringify(value)} names no schema`, 'write --schema public, or --schema app,billing');
  return list;
}

/** The --from connection string in any accepted form, as the URL the tool uses; its password is a secret from here on. */
function sourceConnection(text: string, out: Output): string {
  for (const s of connectionSecrets(text)) out.secrets.add(s);
  return normalizeConnection(text, '--from');
}

async function refuseExisting(file: string): Promise<void> {
  const found = await stat(file).then(() => true, (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? false : Promise.reject(err)));
  if (found) throw new BadInputError(`${file} already exists`, 'pass --force to overwrite it, or -o <another file>');
}

/**
 * The handler: read the source catalog, propose services, write the manifest.
 * Never writes the URL given with --from into the manifest; it reads the
 * variable `proposal.sourceVariable` instead. Returns 1 when the written
 * manifest would not plan (a problem listed on stderr), else 0.
 */
export async function initCommand(
  opts: InitOptions,
  out: Output,
): Promise<{ code: number; file: string | null; proposal: SplitProposal; manifest: string }> {
  const from = sourceConnection(opts.from, out);
  const schemas = parseSchemas(opts.schema);
  const target = opts.output ?? opts.manifest;
  const file = target === '-' ? null : target;
  if (file !== null && !opts.force) await refuseExisting(file);

  const read = await readSourceCatalog(from, schemas);
  // Tables earlier splits moved (their fence is on them) stay in the source as those splits' backups: no manifest names them.
  const catalog = withoutMovedTables(read);
  const proposal = proposeSplit(catalog, schemas);
  if (proposal.services.length === 0) {
    const what = proposal.ignore.length > 0 ? 'only tables that look like bookkeeping or leftovers' : 'no tables';
    throw new BadInputError(
      `database ${catalog.database} has ${what} in ${schemas.join(', ')}: nothing to split`,
      'pass --schema with the schemas that hold the services\' tables',
    );
  }
  const shownFile = file ?? 'plans/split.yaml';
  const manifest = renderManifest(proposal, shownFile);
  const problems = manifestProblems(manifest, shownFile, catalog);

  if (file !== null) {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, manifest, { flag: opts.force ? 'w' : 'wx' }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') throw new BadInputError(`${file} already exists`, 'pass --force to overwrite it, or -o <another file>');
      throw new BadInputError(`cannot write ${file}: ${err.message}`, 'check the path given with -o', { cause: err });
    });
  }
  if (out.json) out.data(proposalJson(proposal, file, manifest));
  else if (file === null) out.stdout.write(manifest);
  for (const line of proposalSummary(proposal)) (file === null ? out.warn : out.say)(line);
  const tell = file === null ? out.warn : out.say;
  if (problems.length > 0) {
    out.warn(`The proposed manifest does not plan yet (${problems.length} problem${problems.length === 1 ? '' : 's'}):`);
    for (const p of problems) out.warn(`  ${p.path}: ${p.message}\n    fix: ${p.fix}`);
  }
  if (file !== null) tell(`\nWrote ${file}. Review it, then:`);
  tell(`  export ${proposal.sourceVariable}='<the URL given to --from>'`);
  // Printed to stdout, the manifest is in no file yet: say where it would be read from once saved.
  tell(file === null ? `  save the manifest above to a file, then: cloudphone-split plan -m <that file>` : `  cloudphone-split plan -m ${shownFile}`);
  return { code: problems.length > 0 ? ExitCode.difference : ExitCode.ok, file, proposal, manifest };
}
