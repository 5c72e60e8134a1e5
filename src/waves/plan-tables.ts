import type { Plan } from '../plan/model.js';
import { describeMoved, type MovedTable } from './moved-table.js';

/**
 * Every source table a plan moves, copies or reads a denormalized column from, with
 * what it does with it: the tables an earlier split must not have moved since. Pure.
 */
export function tablesPlanReads(plan: Pick<Plan, 'steps' | 'services'>): Map<string, 'moves' | 'copies' | 'reads'> {
  const out = new Map<string, 'moves' | 'copies' | 'reads'>();
  for (const s of plan.services) {
    for (const d of s.denormalize) out.set(d.from.slice(0, d.from.lastIndexOf('.')), 'reads');
  }
  for (const st of plan.steps) {
    if (st.kind === 'copy_data' && st.table && !out.has(st.table)) out.set(st.table, 'copies');
    if (st.kind === 'start_replication') for (const t of st.tables) if (!out.has(t)) out.set(t, 'copies');
    if (st.kind === 'start_server_copy') for (const t of st.tables) if (!out.has(t.table)) out.set(t.table, 'copies');
  }
  for (const st of plan.steps) if (st.kind === 'fence_source') for (const t of st.tables) out.set(t, 'moves');
  return out;
}

/** What stops a plan because another split moved one of its tables since it was made (SPEC §7); empty: nothing. */
export function movedSincePlan(plan: Pick<Plan, 'steps' | 'services'>, moved: readonly MovedTable[]): string[] {
  const byTable = new Map(moved.map((m) => [m.table, m]));
  const out: string[] = [];
  for (const [table, what] of tablesPlanReads(plan)) {
    const m = byTable.get(table);
    if (m) out.push(`the plan ${what === 'reads' ? 'reads a column of' : what === 'moves' ? 'moves' : 'copies'} ${table}, which was ${describeMoved(m)}`);
  }
  return out;
}

/**
 * What stops a plan because a table it leaves alone as moved by another split is no longer
 * moved (that split was rolled back since, SPEC §7): the plan dropped its foreign keys to
 * that table as crossing to another database and never copies it, where a new plan would
 * keep them or warn about them. One line per split; empty: nothing. Pure.
 */
export function rolledBackSincePlan(plan: Pick<Plan, 'movedEarlier'>, moved: readonly MovedTable[]): string[] {
  const now = new Set(moved.map((m) => m.table));
  const gone = new Map<string, string[]>();
  for (const m of plan.movedEarlier ?? []) {
    if (now.has(m.table)) continue;
    gone.set(m.split, [...(gone.get(m.split) ?? []), m.table]);
  }
  return [...gone].map(([split, tables]) => {
    const shown = tables.sort().slice(0, 5).join(', ') + (tables.length > 5 ? ` and ${tables.length - 5} more` : '');
    return `the plan leaves ${shown} alone as moved by split ${split}, which no longer ${tables.length === 1 ? 'fences it' : 'fences them'} (rolled back since the plan was made)`;
  });
}
