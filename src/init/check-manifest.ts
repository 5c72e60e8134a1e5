import type { Catalog } from '../catalog/model.js';
import { ManifestError } from '../errors.js';
import { parseManifest } from '../manifest/load.js';
import type { ManifestProblem } from '../manifest/model.js';
import { resolveManifest } from '../manifest/resolve.js';

/**
 * What `plan` would object to in the written manifest, checked against the same
 * catalog: parsing, validation and resolution. Empty when the manifest plans.
 */
export function manifestProblems(text: string, file: string, catalog: Catalog): ManifestProblem[] {
  try {
    resolveManifest(parseManifest(text, file), catalog, file);
    return [];
  } catch (err) {
    if (err instanceof ManifestError) return err.problems;
    throw err;
  }
}
