import { tableKey } from '../catalog/model.js';
import type { CatalogIndex } from '../manifest/catalog-index.js';

/** A view that cannot move with one group: what it reads. */
export interface StrandedView {
  key: string;
  /** Group index → the first table of that group it reads. */
  groups: Map<number, string>;
  /** Tables and views it reads that stay in the source. */
  staying: string[];
}

interface State {
  groups: Map<number, string>;
  staying: string[];
  stranded: boolean;
}

/**
 * Where each view of the split schemas goes, by the same rule `plan` applies: a
 * view moves with a group when everything it reads (through other views too) is
 * in that group; a view reading several groups, or one group and something
 * that stays in the source, is stranded (it must be ignored); a view reading
 * only what stays, stays. `groupOf` returns null for a table that stays.
 */
export function placeViews(
  index: CatalogIndex,
  groupOf: (tableKey: string) => number | null,
): { byGroup: Map<number, string[]>; stranded: StrandedView[] } {
  const states = new Map<string, State>();
  const byGroup = new Map<number, string[]>();
  const stranded: StrandedView[] = [];
  const visit = (key: string): State => {
    const known = states.get(key);
    if (known) return known;
    const state: State = { groups: new Map(), staying: [], stranded: false };
    states.set(key, state);
    for (const dep of index.viewsByKey.get(key)!.dependsOn) {
      if (index.viewsByKey.has(dep)) {
        const s = visit(dep);
        if (s.stranded || s.groups.size === 0) state.staying.push(dep);
        else for (const [g, t] of s.groups) if (!state.groups.has(g)) state.groups.set(g, t);
        continue;
      }
      const g = index.byKey.has(dep) ? groupOf(index.rootOf(dep)) : null;
      if (g === null) state.staying.push(dep);
      else if (!state.groups.has(g)) state.groups.set(g, index.rootOf(dep));
    }
    if (state.groups.size === 0) return state;
    if (state.groups.size > 1 || state.staying.length > 0) {
      state.stranded = true;
      stranded.push({ key, groups: state.groups, staying: state.staying });
      return state;
    }
    const g = [...state.groups.keys()][0]!;
    byGroup.set(g, [...(byGroup.get(g) ?? []), key]);
    return state;
  };
  for (const v of index.views) visit(tableKey(v));
  return { byGroup, stranded };
}
