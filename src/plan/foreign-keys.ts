import type { Catalog, Constraint, Table } from '../catalog/model.js';
import { tableKey } from '../catalog/model.js';
import type { DroppedForeignKey } from './model.js';
import type { PlanInput, ResolvedServiceInput } from './input.js';
import { describeMoved } from '../waves/moved-table.js';

/** Columns that make good denormalized copies of a referenced row, best first. */
const LABEL_COLUMNS = ['name', 'username', 'display_name', 'title', 'email', 'tenant_id', 'code', 'slug'];

export interface Ownership {
  /** table key (partitions included) → owning service name. */
  owner: Map<string, string>;
  /** table key → root table key (a partition's partitioned ancestor, or itself). */
  root: Map<string, string>;
}

export function ownership(catalog: Catalog, services: ResolvedServiceInput[]): Ownership {
  const owner = new Map<string, string>();
  for (const s of services) for (const t of s.tables) owner.set(t, s.spec.name);
  const root = new Map<string, string>();
  const byKey = new Map(catalog.tables.map((t) => [tableKey(t), t]));
  const rootOf = (t: Table): string => {
    let cur = t;
    while (cur.partitionOf) {
      const parent = byKey.get(tableKey(cur.partitionOf.parent));
      if (!parent) break;
      cur = parent;
    }
    return tableKey(cur);
  };
  for (const t of catalog.tables) {
    const r = rootOf(t);
    root.set(tableKey(t), r);
    const o = owner.get(r);
    if (o && !owner.has(tableKey(t))) owner.set(tableKey(t), o);
  }
  return { owner, root };
}

/** Every table key in the set plus all partitions below them, parents before children. */
export function withPartitions(catalog: Catalog, keys: string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const children = new Map<string, string[]>();
  for (const t of catalog.tables) {
    if (!t.partitionOf) continue;
    const p = tableKey(t.partitionOf.parent);
    children.set(p, [...(children.get(p) ?? []), tableKey(t)]);
  }
  const visit = (k: string) => {
    if (seen.has(k)) return;
    seen.add(k);
    out.push(k);
    for (const c of (children.get(k) ?? []).sort()) visit(c);
  };
  for (const k of keys) visit(k);
  return out;
}

function describeRef(fk: Constraint): string {
  const r = fk.references!;
  return `${r.table.schema}.${r.table.name}(${r.columns.join(', ')})`;
}

function suggestColumns(catalog: Catalog, refKey: string, keyCols: string[]): string[] {
  const t = catalog.tables.find((x) => tableKey(x) === refKey);
  if (!t) return [];
  const names = t.columns.map((c) => c.name).filter((c) => !keyCols.includes(c));
  return LABEL_COLUMNS.filter((c) => names.includes(c)).slice(0, 2);
}

function sameColumns(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((c) => b.includes(c));
}

/**
 * Decides, for one service, which foreign keys stay (both ends owned by the
 * service) and which are dropped (the other end is another service's, a copy,
 * or left behind), with the denormalized columns that could replace each.
 */
export function classifyForeignKeys(
  input: PlanInput,
  service: ResolvedServiceInput,
  own: Ownership,
): { keep: (table: Table, fk: Constraint) => boolean; dropped: DroppedForeignKey[] } {
  const { catalog } = input;
  const moved = new Map((input.movedEarlier ?? []).map((m) => [m.table, m]));
  const owned = new Set(withPartitions(catalog, service.tables));
  const inSet = new Set(withPartitions(catalog, [...service.tables, ...service.copies]));
  const keep = (table: Table, fk: Constraint): boolean => {
    if (fk.type !== 'f' || !fk.references) return false;
    const ref = tableKey(fk.references.table);
    return owned.has(tableKey(table)) && owned.has(ref);
  };
  const dropped: DroppedForeignKey[] = [];
  for (const t of catalog.tables) {
    const key = tableKey(t);
    if (!inSet.has(key)) continue;
    for (const fk of t.constraints) {
      if (fk.type !== 'f' || !fk.references || fk.inherited || keep(t, fk)) continue;
      const ref = tableKey(fk.references.table);
      const earlier = moved.get(ref);
      const refOwner = own.owner.get(ref) ?? earlier?.service ?? null;
      const reason: DroppedForeignKey['reason'] = !owned.has(key) ? 'copy' : refOwner === null && !earlier ? 'ignored' : 'cross-service';
      const declared = service.denormalize
        // Joined through this key's own columns: another key to the same table (creator_id, owner_id) is not replaced by it.
        .filter((d) => d.table === own.root.get(key) && own.root.get(d.fromTable) === own.root.get(ref) && sameColumns(d.on.map((p) => p.local), fk.columns))
        .map((d) => `${d.table}.${d.column}`);
      const proposals = suggestColumns(catalog, ref, fk.references.columns).map((c) => `${fk.references!.table.name}.${c}`);
      // What the key did on a delete or update of the referenced row (both, pg_get_constraintdef writing ON UPDATE first), which nothing does once it is gone.
      const actions = reason === 'copy' ? [] : [...fk.definition.matchAll(/\bON (DELETE|UPDATE) (CASCADE|SET NULL|SET DEFAULT)\b/g)].sort((a, b) => (a[1] === 'DELETE' ? -1 : b[1] === 'DELETE' ? 1 : 0));
      const done = (a: string, what: string): string =>
        a === 'CASCADE' ? (what === 'DELETE' ? `deletes the rows of ${key} that reference it` : `updates ${key}.${fk.columns.join(', ')}`)
          : `sets ${key}.${fk.columns.join(', ')} to ${a === 'SET NULL' ? 'NULL' : 'its default'}`;
      const lost = actions
        .map((m) => `; its ON ${m[1]} ${m[2]} goes with it: ${m[1] === 'DELETE' ? 'deleting' : 'changing the key of'} a row of ${ref} no longer ${done(m[2]!, m[1]!)}, the application must`)
        .join('');
      const base = earlier
        ? `${ref} was ${describeMoved(earlier)}: check ${fk.columns.join(', ')} in the application (denormalizing from it is refused: its rows in the source are a stale, fenced backup)`
        : declared.length > 0
          ? `replaced by denormalized ${declared.join(', ')}; keep them fresh from ${refOwner ?? 'the source'} events`
          : reason === 'copy'
            ? `the copy is a read-only reference; ${refOwner ?? 'nobody'} owns ${ref}`
            : proposals.length > 0
              ? `check ${fk.columns.join(', ')} in the application, or denormalize: ${proposals.join(', ')}`
              : `check ${fk.columns.join(', ')} in the application (an event from ${refOwner ?? 'the source'} on delete)`;
      const suggestion = `${base}${lost}`;
      dropped.push({
        table: key,
        constraint: fk.name,
        columns: fk.columns,
        references: describeRef(fk),
        referencedService: refOwner,
        reason,
        denormalizedBy: earlier ? declared : declared.length > 0 ? declared : proposals,
        suggestion,
        ...(earlier ? { movedBy: earlier.split } : {}),
      });
    }
  }
  return { keep, dropped };
}
