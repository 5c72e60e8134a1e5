import type { FencedTable } from '../catalog/model.js';
import type { Plan } from '../plan/model.js';
import type { MovedTable } from './moved-table.js';

/** What the journal says of another split: its latest run not rolled back (see Journal.splits). */
export interface WaveRecord {
  split: string;
  plan: Pick<Plan, 'source' | 'services' | 'steps'>;
  /** The system identifier of the server it was applied on (journal fact `source`); null: not recorded. */
  systemIdentifier: string | null;
  /** The OID of the source database it was applied to (same fact); null or absent: not recorded. */
  databaseOid?: string | null;
  /** ISO time its fence went up; null: not yet. */
  fencedAt: string | null;
  /** false: its run changed nothing (stopped at its preflight), so it moves nothing; absent: it did. */
  changed?: boolean;
  /** true: an apply of it runs now (holds its lock), so a run that changed nothing yet is moving its tables all the same. */
  live?: boolean;
}

/** The source being planned: its database, its cluster and the split planning it. */
export interface SourceIdentity {
  split: string;
  database: string;
  /** null when it cannot be read (then only the database name is compared). */
  systemIdentifier: string | null;
  /** The database's OID: a database dropped and made again under the same name is another source. null: not read. */
  databaseOid?: string | null;
}

/** Whether a split ran against this very source (same database, same cluster and same database OID when both are known). */
export function sameSource(split: { plan: Pick<Plan, 'source'>; systemIdentifier: string | null; databaseOid?: string | null }, source: SourceIdentity): boolean {
  if (split.plan.source.database !== source.database) return false;
  if (split.databaseOid && source.databaseOid && split.databaseOid !== source.databaseOid) return false;
  const recorded = split.systemIdentifier;
  return recorded === null || source.systemIdentifier === null || recorded === source.systemIdentifier;
}

/** Whether a journaled split is an earlier wave of this source: another split of it that changed something, or whose apply runs now. */
function countsAsWave(r: WaveRecord, source: SourceIdentity): boolean {
  if (r.split === source.split || !sameSource(r, source)) return false;
  // A run stopped at its preflight created, copied and fenced nothing: it is no wave yet (unless it runs now).
  return !(r.changed === false && r.fencedAt === null && r.live !== true);
}

/**
 * The tables earlier splits of the same source moved (SPEC §7): every table a split of
 * the journal fences (its plan's `fence_source` tables, moved once its fence is up,
 * being moved before), and every table whose fence trigger names another split, even
 * one the journal does not know. `rootOf` gives a partition's partitioned table (the
 * one a plan lists under its service). Pure.
 */
export function earlierWaves(
  records: readonly WaveRecord[],
  fences: readonly FencedTable[],
  source: SourceIdentity,
  rootOf: (key: string) => string = (k) => k,
): MovedTable[] {
  const out = new Map<string, MovedTable>();
  const fencedBy = new Map<string, Set<string>>();
  for (const f of fences) fencedBy.set(f.split, (fencedBy.get(f.split) ?? new Set()).add(f.table));
  for (const r of records) {
    if (!countsAsWave(r, source)) continue;
    // Fenced per table: a split applied for some services only has fenced their tables, not the others' yet.
    const own = fencedBy.get(r.split);
    const serviceOf = new Map<string, { name: string; database: string }>();
    for (const s of r.plan.services) for (const t of s.tables) serviceOf.set(t.name, { name: s.name, database: s.database });
    for (const step of r.plan.steps) {
      if (step.kind !== 'fence_source') continue;
      for (const table of step.tables) {
        if (out.has(table)) continue;
        const svc = serviceOf.get(table) ?? serviceOf.get(rootOf(table)) ?? null;
        out.set(table, {
          table,
          split: r.split,
          service: svc?.name ?? null,
          database: svc?.database ?? null,
          movedAt: r.fencedAt !== null && (own === undefined || own.has(table)) ? r.fencedAt : null,
          state: r.fencedAt === null || (own !== undefined && !own.has(table)) ? 'moving' : 'moved',
          via: 'journal',
        });
      }
    }
  }
  for (const f of fences) {
    if (f.split === source.split) continue;
    const known = out.get(f.table);
    if (known) {
      out.set(f.table, { ...known, state: 'moved', via: 'journal+fence' });
      continue;
    }
    out.set(f.table, { table: f.table, split: f.split, service: null, database: f.database, movedAt: null, state: 'moved', via: 'fence' });
  }
  return [...out.values()].sort((a, b) => a.table.localeCompare(b.table));
}

/** A sequence an earlier split of the same source carried into a service database, where it gives out values now. */
export interface SequenceMovedEarlier {
  /** `schema.name`. */
  sequence: string;
  split: string;
  database: string;
}

/**
 * The sequences earlier splits of the same source carried into their databases (listed
 * under a service's objects, or taken along by the tables that use them): a later split
 * that carries one again would start it at the source's value, behind the values the
 * earlier database has given out since. Same filter as earlierWaves. Pure.
 */
export function sequencesMovedEarlier(records: readonly WaveRecord[], source: SourceIdentity): SequenceMovedEarlier[] {
  const out = new Map<string, SequenceMovedEarlier>();
  for (const r of records) {
    if (!countsAsWave(r, source)) continue;
    for (const svc of r.plan.services) {
      for (const o of svc.objects ?? []) if (o.kind === 'sequence' && !out.has(o.name)) out.set(o.name, { sequence: o.name, split: r.split, database: svc.database });
    }
  }
  return [...out.values()].sort((a, b) => a.sequence.localeCompare(b.sequence));
}
