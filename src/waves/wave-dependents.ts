import type { Plan } from '../plan/model.js';
import { sameSource } from './earlier-waves.js';
import { tablesPlanReads } from './plan-tables.js';

/** A split as rollback weighs it: its latest run not rolled back, and that run's plan. */
export interface SplitRun {
  split: string;
  startedAt: Date;
  plan: Pick<Plan, 'source' | 'services' | 'steps'>;
  /** The server it was applied on (journal fact `source`); null: not recorded. */
  systemIdentifier: string | null;
  /** The source database's OID (same fact); null or absent: not recorded. */
  databaseOid?: string | null;
  /** false: its latest run changed nothing (stopped at its preflight); absent: it did. */
  changed?: boolean;
  /** When a run of it (not rolled back) first fenced tables; null: none did. */
  fencedAt?: Date | null;
  /** true: an apply of it runs now (it may be about to change things). */
  live?: boolean;
}

/** A later split that needs this one's tables: it copied them or filled columns from them. */
export interface WaveDependent {
  split: string;
  table: string;
  uses: 'copies' | 'reads' | 'moves' | 'retires';
}

/**
 * The later splits of the same source that depend on `wave` (SPEC §7): their plan
 * copies one of the tables `wave` moved, reads a denormalized column from one, or
 * moves one again. Rolling `wave` back would take the rows they read back to the
 * source. Splits started before `wave` never depend on it. Pure.
 */
export function waveDependents(wave: SplitRun, others: readonly SplitRun[]): WaveDependent[] {
  const moved = new Set(wave.plan.steps.flatMap((s) => (s.kind === 'fence_source' ? s.tables : [])));
  const source = { split: wave.split, database: wave.plan.source.database, systemIdentifier: wave.systemIdentifier, databaseOid: wave.databaseOid ?? null };
  const out: WaveDependent[] = [];
  for (const o of others) {
    if (o.split === wave.split || o.startedAt.getTime() < wave.startedAt.getTime() || !sameSource(o, source)) continue;
    // A split whose only run stopped at its preflight (a privilege missing) copied, fenced and retired nothing.
    if (o.changed === false && !o.fencedAt && o.live !== true) continue;
    for (const [table, uses] of tablesPlanReads(o.plan)) if (moved.has(table)) out.push({ split: o.split, table, uses });
    // A later split that retires the source makes it read-only: this one's tables would come back to a database nobody may write.
    if (moved.size > 0 && o.plan.steps.some((s) => s.kind === 'schedule_retention' && s.retire)) out.push({ split: o.split, table: o.plan.source.database, uses: 'retires' });
  }
  return out;
}

/** One line per dependent, for the refusal. */
export function describeDependent(d: WaveDependent): string {
  if (d.uses === 'retires') return `split ${d.split} retires the source ${d.table} (read-only, a backup): this split's tables would come back to a database no service may write`;
  const what = d.uses === 'copies' ? 'copied' : d.uses === 'reads' ? 'filled denormalized columns from' : 'moved again';
  return `split ${d.split} ${what} ${d.table}`;
}
