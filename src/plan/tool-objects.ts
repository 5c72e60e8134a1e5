import type { Catalog, Privileges } from '../catalog/model.js';
import { FENCE_ROWS_TRIGGER, FENCE_SCHEMA, FENCE_TRIGGER } from '../steps/fence-source.js';
import { fencesOf } from '../waves/fence-triggers.js';

/** The replication roles online mode makes on the source (`cps_<split hash>_<database>_<hash>_r`): they come and go with a subscription. */
const REPLICATION_ROLE = /^cps_[0-9a-f]{8}_.*_r$/;

/** `o` without the privileges granted to the tool's replication roles. */
function withoutToolGrants<T extends { privileges?: Privileges }>(o: T): T {
  const p = o.privileges;
  if (!p) return o;
  const keep = (grants: Privileges['grants']) => grants.filter((g) => g.grantee === null || !REPLICATION_ROLE.test(g.grantee));
  const columnEntries = Object.entries(p.columns ?? {})
    .map(([c, gs]) => [c, keep(gs)] as const)
    .filter(([, gs]) => gs.length > 0);
  const grants = keep(p.grants);
  const { privileges: _dropped, ...rest } = o;
  // Nothing left: the object reads as one that never had privileges beyond its owner's.
  if (grants.length === 0 && p.revokedFromPublic.length === 0 && columnEntries.length === 0) return rest as T;
  return { ...o, privileges: { grants, revokedFromPublic: p.revokedFromPublic, ...(columnEntries.length ? { columns: Object.fromEntries(columnEntries) } : {}) } };
}

/**
 * The tool's own objects in the source (the fence's schema and triggers, and what its
 * replication roles are granted) are not part of the user's schema: they must not
 * change a fingerprint or be copied. The fence's triggers are kept as `fences` (what
 * earlier splits moved), with those a snapshot already carried.
 */
export function stripToolObjects(catalog: Catalog): Catalog {
  const found = fencesOf(catalog);
  const fences = [...(catalog.fences ?? []).filter((f) => !found.some((g) => g.table === f.table)), ...found].sort((a, b) => a.table.localeCompare(b.table));
  return {
    ...catalog,
    ...(fences.length > 0 ? { fences } : {}),
    schemas: catalog.schemas.filter((s) => s !== FENCE_SCHEMA),
    ...(catalog.namespaces ? { namespaces: catalog.namespaces.filter((n) => n.name !== FENCE_SCHEMA).map(withoutToolGrants) } : {}),
    tables: catalog.tables
      .filter((t) => t.schema !== FENCE_SCHEMA)
      .map((t) => withoutToolGrants({ ...t, triggers: t.triggers.filter((tr) => tr.name !== FENCE_TRIGGER && tr.name !== FENCE_ROWS_TRIGGER) })),
    functions: catalog.functions.filter((f) => f.schema !== FENCE_SCHEMA).map(withoutToolGrants),
    types: catalog.types.filter((t) => t.schema !== FENCE_SCHEMA).map(withoutToolGrants),
    sequences: catalog.sequences.filter((s) => s.schema !== FENCE_SCHEMA).map(withoutToolGrants),
    views: catalog.views.filter((v) => v.schema !== FENCE_SCHEMA).map(withoutToolGrants),
  };
}
