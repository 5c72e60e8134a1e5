import type { Catalog, Table } from '../catalog/model.js';
import { renderPostData } from '../catalog/ddl.js';

/**
 * The constraints and indexes the subscription's apply worker needs to find a row
 * for UPDATE and DELETE: the primary key, and the replica identity index when the
 * table names one. Everything else of the post-data can wait until the initial copy
 * is done (indexes build faster on loaded tables).
 */
function identityNames(t: Table): { constraints: Set<string>; indexes: Set<string> } {
  const constraints = new Set<string>();
  const indexes = new Set<string>();
  for (const c of t.constraints) {
    if (c.type !== 'p') continue;
    constraints.add(c.name);
    if (c.index) indexes.add(c.index);
  }
  if (t.replicaIdentity === 'i' && t.replicaIdentityIndex) {
    indexes.add(t.replicaIdentityIndex);
    const backing = t.indexes.find((i) => i.name === t.replicaIdentityIndex)?.constraint;
    if (backing) constraints.add(backing);
  }
  for (const i of t.indexes) if (i.constraint && constraints.has(i.constraint)) indexes.add(i.name);
  return { constraints, indexes };
}

/** Only the keys: no other constraint, index, trigger, policy, row-level security, rule or extended statistics. */
function keysOnly(t: Table): Table {
  const { constraints, indexes } = identityNames(t);
  return {
    ...t,
    constraints: t.constraints.filter((c) => constraints.has(c.name)),
    indexes: t.indexes.filter((i) => indexes.has(i.name)),
    triggers: [],
    policies: [],
    rowSecurity: false,
    forceRowSecurity: false,
    // Rules and extended statistics come with the rest, once (made twice, the second fails: "already exists").
    rules: [],
    statistics: [],
  };
}

/** Everything but the keys (the replica identity setting stays with the keys). */
function withoutKeys(t: Table): Table {
  const { constraints, indexes } = identityNames(t);
  return {
    ...t,
    constraints: t.constraints.filter((c) => !constraints.has(c.name)),
    indexes: t.indexes.filter((i) => !indexes.has(i.name)),
    replicaIdentity: 'd',
    replicaIdentityIndex: null,
  };
}

function mapTables(catalog: Catalog, f: (t: Table) => Table): Catalog {
  return { ...catalog, tables: catalog.tables.map(f) };
}

/**
 * Splits the per-table post-data of `renderPostData` in two, by table key (partition
 * trees under their root): `keys` (primary keys, replica identity index and setting)
 * built before replication starts, and `rest` (other keys and indexes, NOT VALID
 * checks, triggers, row-level security, policies) built once the initial copy is done.
 * Together they hold the statements of the offline post-data.
 */
export function splitPostData(catalog: Catalog, tableKeys: string[]): { keys: Record<string, string[]>; rest: Record<string, string[]> } {
  const none = { keepForeignKey: () => false };
  return {
    keys: renderPostData(mapTables(catalog, keysOnly), tableKeys, none).perTable,
    rest: renderPostData(mapTables(catalog, withoutKeys), tableKeys, none).perTable,
  };
}

/** True when logical replication can carry the table's UPDATEs and DELETEs. */
/**
 * A unique index that could be a table's replica identity (`REPLICA IDENTITY USING INDEX`):
 * not partial, not deferrable, on plain columns that are all NOT NULL (a Prisma join
 * table's `("A", "B")` index). Null when none qualifies, or its definition cannot be read.
 */
export function replicaIdentityCandidate(t: Table): string | null {
  const notNull = new Set(t.columns.filter((c) => c.notNull).map((c) => c.name));
  for (const i of t.indexes) {
    if (!i.unique || i.parentIndex) continue;
    // As the catalog reads it (quote_all_identifiers: `USING "btree" ("a", "b")`), or as psql shows it.
    const m = /^CREATE UNIQUE INDEX .+? ON (?:ONLY )?.+? USING "?btree"? \((.*)\)$/.exec(i.definition);
    if (!m) continue;
    const columns = m[1]!.split(', ').map((c) => /^"((?:[^"]|"")+)"$/.exec(c)?.[1]?.replaceAll('""', '"') ?? (/^[a-z_][a-z0-9_$]*$/.test(c) ? c : null));
    const deferrable = t.constraints.some((c) => c.name === i.constraint && c.deferrable);
    if (!deferrable && columns.length > 0 && columns.every((c) => c !== null && notNull.has(c))) return i.name;
  }
  return null;
}

export function hasReplicaIdentity(t: Table): boolean {
  if (t.replicaIdentity === 'f') return true;
  if (t.replicaIdentity === 'i') return t.replicaIdentityIndex !== null;
  if (t.replicaIdentity === 'n') return false;
  return t.constraints.some((c) => c.type === 'p');
}
