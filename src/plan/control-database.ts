import type { ManifestProblem } from '../manifest/model.js';
import type { LoadedSplit } from './make.js';
import { controlUrlFor } from '../engine/control-url.js';
import { databaseOf, serverOf } from '../pg/url.js';

function sameServer(a: string, b: string): boolean {
  try {
    return serverOf(a) === serverOf(b);
  } catch {
    return false;
  }
}

/**
 * Services whose database is the control database (the journal's): same server
 * (host and port; apply's preflight compares system identifiers too) and same name.
 * Splitting into it would hand the journal to a service and drop its schema.
 */
export function controlDatabaseProblems(split: Pick<LoadedSplit, 'manifest' | 'servers' | 'controlUrl' | 'file'>): ManifestProblem[] {
  const source = split.servers.source;
  if (!source) return [];
  const control = controlUrlFor(source, split.controlUrl);
  const controlDb = databaseOf(control);
  const problems: ManifestProblem[] = [];
  for (const s of split.manifest.services) {
    const url = split.servers[s.server];
    if (!url || s.database !== controlDb || !sameServer(url, control)) continue;
    problems.push({
      file: split.file,
      path: `services.${s.name}.database`,
      message: `${s.database} is the control database that holds the journal (on server ${s.server}); a split can never use it as a target`,
      fix: `choose another database name for ${s.name}, or move the journal elsewhere with control.url`,
    });
  }
  return problems;
}
