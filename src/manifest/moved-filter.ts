import type { EntryMatch, EntryProblem } from './match-entry.js';
import { describeMoved, type MovedTable } from '../waves/moved-table.js';

/** What to do about tables another split has started moving (and not fenced yet): finish it, or roll it back to move them here. */
function movingFix(split: string): string {
  return `split ${split} has not finished: finish it (cloudphone-split apply with its manifest), or roll it back (cloudphone-split rollback with its manifest) to move the table with this one; removing it from this manifest leaves it to that split`;
}

/**
 * Takes the tables earlier splits moved out of what a manifest entry matched (SPEC §7):
 * a glob simply does not match them (one that matches nothing else matches "nothing"),
 * and an exact name is a problem (`moved`) that says which split moved the table and when
 * (`ignore` reports it as a warning: the table does stay in the source, as a backup).
 */
export function withoutMoved(
  m: EntryMatch | EntryProblem,
  moved: ReadonlyMap<string, MovedTable>,
  shown: (key: string) => string,
  entry: string,
): EntryMatch | EntryProblem {
  if ('message' in m || moved.size === 0) return m;
  const taken = m.tables.filter((k) => moved.has(k));
  if (taken.length === 0) return m;
  if (!m.isGlob) {
    const k = taken[0]!;
    const m0 = moved.get(k)!;
    return {
      message: `${shown(k)} was ${describeMoved(m0)}: a table is moved once, and its rows in the source are that split's fenced backup`,
      fix: m0.state === 'moving' ? movingFix(m0.split) : 'remove it from this manifest: the tables earlier splits moved need no entry',
      nothing: false,
      suggested: [],
      moved: true,
    };
  }
  const tables = m.tables.filter((k) => !moved.has(k));
  if (tables.length === 0 && m.views.length === 0) {
    const splits = [...new Set(taken.map((k) => moved.get(k)!.split))];
    return {
      message: `${JSON.stringify(entry)} matches only tables that earlier splits moved (${splits.map((s) => `split ${s}`).join(', ')}): ${taken.map(shown).join(', ')}`,
      fix: taken.every((k) => moved.get(k)!.state === 'moving') ? movingFix(splits.join(', ')) : 'remove it: the tables earlier splits moved need no entry',
      nothing: true,
      suggested: [],
    };
  }
  return { ...m, tables };
}
