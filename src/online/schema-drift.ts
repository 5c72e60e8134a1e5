import type { Catalog } from '../catalog/model.js';
import { parseKey } from '../catalog/model.js';
import { ident, qname } from '../pg/quote.js';
import { tableFingerprint } from '../catalog/fingerprint.js';
import type { Plan } from '../plan/model.js';

/** The moved or copied tables whose definition in the live source differs from the plan's fingerprint (or that are gone). */
export function changedTables(plan: Plan, live: Catalog): string[] {
  return Object.entries(plan.tableFingerprints)
    .filter(([key, fp]) => !live.tables.some((t) => `${t.schema}.${t.name}` === key) || tableFingerprint(live, key) !== fp)
    .map(([key]) => key);
}

/** A partition of a moved or copied table made in the source since the plan. */
export interface NewSourcePartition {
  partition: string;
  parent: string;
  /** The plan's service database its tree went to (its root's). */
  database: string;
  server: string;
  /** What makes it in that database. */
  ddl: string;
}

/**
 * The partitions of the plan's tables the source gained since the plan (a job making
 * tomorrow's partition between apply and cutover): logical replication publishes their
 * rows through the root, and a new database without the partition stops its subscription
 * at the first of them.
 */
export function newSourcePartitions(plan: Plan, live: Catalog): NewSourcePartition[] {
  const byKey = new Map(live.tables.map((t) => [`${t.schema}.${t.name}`, t]));
  const owner = (key: string) => plan.services.find((s) => s.tables.some((t) => t.name === key) || s.copies.some((t) => t.name === key));
  const out: NewSourcePartition[] = [];
  for (const t of live.tables) {
    const key = `${t.schema}.${t.name}`;
    if (!t.partitionOf || key in plan.tableFingerprints) continue;
    // Up the tree to the planned table it belongs to.
    let up: string | null = `${t.partitionOf.parent.schema}.${t.partitionOf.parent.name}`;
    let svc: ReturnType<typeof owner> = undefined;
    while (up !== null && !(svc = owner(up))) {
      const above: Catalog['tables'][number]['partitionOf'] = byKey.get(up)?.partitionOf ?? null;
      up = above ? `${above.parent.schema}.${above.parent.name}` : null;
    }
    if (!svc) continue;
    const parent = `${t.partitionOf.parent.schema}.${t.partitionOf.parent.name}`;
    out.push({ partition: key, parent, database: svc.database, server: svc.server, ddl: `CREATE TABLE ${qname(parseKey(key))} PARTITION OF ${qname(parseKey(parent))} ${t.partitionOf.bound}` });
  }
  return out;
}

/**
 * What changed in the source's moved and copied tables since the plan: logical
 * replication carries rows, not DDL, so a column added after `apply` would break the
 * subscription at its first write or be missing after cutover. Each changed table is
 * named, with the columns added or gone against `targetColumns` (the table's columns in
 * its new database, denormalized ones left out); other changes (types, constraints,
 * indexes) are named as such. Pure: empty when nothing changed.
 */
export function schemaDrift(
  plan: Plan,
  live: Catalog,
  targetColumns: ReadonlyMap<string, readonly string[]>,
  inTargets: { present: ReadonlySet<string>; parentOwner: ReadonlyMap<string, string> } = { present: new Set(), parentOwner: new Map() },
): string[] {
  const extra = new Set(plan.services.flatMap((s) => s.denormalize.map((d) => `${d.table}.${d.column}`)));
  // A partition made in both since (as the drift below asks) replicates like the others.
  const partitions = newSourcePartitions(plan, live)
    .filter((p) => !inTargets.present.has(`${p.database}\0${p.partition}`))
    .map((p) => {
      // Owned like its parent there: from PostgreSQL 16 a subscription applies rows as the table's owner.
      const owner = inTargets.parentOwner.get(`${p.database}\0${p.parent}`);
      const ddl = owner ? `${p.ddl}; ALTER TABLE ${qname(parseKey(p.partition))} OWNER TO ${ident(owner)}` : p.ddl;
      return `${p.partition}: new partition of ${p.parent} since the plan, which ${p.database} lacks (replication would stop at its first row): make it there too: ${ddl};`;
    });
  return [...partitions, ...changedTables(plan, live).map((key) => {
    const table = live.tables.find((t) => `${t.schema}.${t.name}` === key);
    if (!table) return `${key}: dropped`;
    const before = targetColumns.get(key)?.filter((c) => !extra.has(`${key}.${c}`));
    const now = table.columns.map((c) => c.name);
    const added = before ? now.filter((c) => !before.includes(c)) : [];
    const gone = before ? before.filter((c) => !now.includes(c)) : [];
    const parts = [...added.map((c) => `column ${c} added`), ...gone.map((c) => `column ${c} gone`)];
    return `${key}: ${parts.length > 0 ? parts.join(', ') : 'definition changed (types, constraints, indexes or triggers)'}`;
  })];
}
