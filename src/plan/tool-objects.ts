import type { Catalog } from '../catalog/model.js';
import { FENCE_SCHEMA, FENCE_TRIGGER } from '../steps/fence-source.js';

/**
 * The tool's own objects in the source (the fence's schema and triggers) are not
 * part of the user's schema: they must not change a fingerprint or be copied.
 */
export function stripToolObjects(catalog: Catalog): Catalog {
  return {
    ...catalog,
    schemas: catalog.schemas.filter((s) => s !== FENCE_SCHEMA),
    tables: catalog.tables
      .filter((t) => t.schema !== FENCE_SCHEMA)
      .map((t) => ({ ...t, triggers: t.triggers.filter((tr) => tr.name !== FENCE_TRIGGER) })),
    functions: catalog.functions.filter((f) => f.schema !== FENCE_SCHEMA),
    types: catalog.types.filter((t) => t.schema !== FENCE_SCHEMA),
    sequences: catalog.sequences.filter((s) => s.schema !== FENCE_SCHEMA),
    views: catalog.views.filter((v) => v.schema !== FENCE_SCHEMA),
  };
}
