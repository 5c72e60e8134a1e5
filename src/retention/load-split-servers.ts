import { loadSplit, type LoadedSplit } from '../plan/make.js';
import { expand, missingVariables } from '../manifest/expand.js';
import { ManifestError } from '../errors.js';
import { isConnectionPath } from '../manifest/connection-settings.js';

/** A split loaded for the commands that only connect (rollback, retention): `archive` expanded. */
export interface SplitServers extends LoadedSplit {
  /** retention.archive with its variables expanded (still relative to the manifest's folder); null when unset. */
  archive: string | null;
}

/**
 * Loads the manifest and expands only what connecting needs: source, control and
 * server URLs, and retention.archive. Role passwords and config values may stay unset,
 * so that a scheduler running `retention prune` needs no service password.
 */
export async function loadSplitServers(file: string, env: NodeJS.ProcessEnv): Promise<SplitServers> {
  const split = await loadSplit(file, env, { source: false });
  const needed = (path: string) => isConnectionPath(path) || path === 'retention.archive';
  const missing = missingVariables(split.manifest, env, split.file).filter((p) => needed(p.path));
  if (missing.length > 0) throw new ManifestError(missing);
  const archive = split.manifest.retention.archive === null ? null : expand(split.manifest.retention.archive, env, 'retention.archive');
  return { ...split, archive };
}
