import type { Catalog } from '../../../src/catalog/model.js';
import { parseManifest } from '../../../src/manifest/load.js';
import { resolveManifest } from '../../../src/manifest/resolve.js';
import { buildPlan } from '../../../src/plan/build.js';
import type { PlanInput } from '../../../src/plan/input.js';
import type { Plan } from '../../../src/plan/model.js';

/** The plan of a manifest's text over a catalog, as `plan --schema` makes it (no config files unless given, no live facts). */
export function planFrom(text: string, catalog: Catalog, configEdits: PlanInput['configEdits'] = {}): Plan {
  const manifest = parseManifest(text, 'split.yaml');
  const resolved = resolveManifest(manifest, catalog, 'split.yaml');
  return buildPlan({
    manifest,
    manifestText: text,
    manifestPath: 'split.yaml',
    catalog,
    services: resolved.services.map((s) => ({ spec: s.spec, tables: s.tables, copies: s.copies, views: s.views, denormalize: [] })),
    ignored: [],
    warnings: [],
    configEdits,
  });
}
