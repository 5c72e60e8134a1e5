import type { CatalogIndex, Placement } from './catalog-index.js';
import { tableKey } from '../catalog/model.js';
import type { ProblemList } from './problem-list.js';

/** Where each view of the source schemas goes. */
export interface ViewPlacement {
  /** Service name → view keys, each after the views it reads. */
  byService: Map<string, string[]>;
  /** Views that stay in the source (ignored, or reading nothing that moves). */
  stay: string[];
}

interface ViewState {
  /** Service → first table of it that the view reads. */
  owners: Map<string, string>;
  /** Tables and views read that stay in the source. */
  staying: string[];
  /** A problem already reported here or upstream: report nothing more. */
  broken: boolean;
}

/**
 * A view moves with a service when everything it reads (through other views too)
 * is owned by that service. A view reading several services' tables, or one
 * service's tables and tables that stay in the source, is a problem unless
 * ignored. Views over unsettled tables are skipped: the table is the problem.
 */
export function placeViews(
  index: CatalogIndex,
  placementOf: (tableKey: string) => Placement,
  ignoredViews: ReadonlySet<string>,
  problems: ProblemList,
): ViewPlacement {
  const states = new Map<string, ViewState>();
  const placement: ViewPlacement = { byService: new Map(), stay: [] };

  const visit = (key: string): ViewState => {
    const known = states.get(key);
    if (known) return known;
    const state: ViewState = { owners: new Map(), staying: [], broken: false };
    states.set(key, state); // guards against cycles
    const view = index.viewsByKey.get(key)!;
    for (const dep of view.dependsOn) {
      if (index.viewsByKey.has(dep)) {
        const s = visit(dep);
        if (ignoredViews.has(dep) || (!s.broken && s.owners.size === 0)) state.staying.push(dep);
        else if (s.broken) state.broken = true;
        else for (const [svc, t] of s.owners) if (!state.owners.has(svc)) state.owners.set(svc, t);
        continue;
      }
      const place = placementOf(dep);
      if (place === 'unsettled') state.broken = true; // reported on its own
      else if (place === 'stays') state.staying.push(dep);
      else if (!state.owners.has(place.service)) state.owners.set(place.service, dep);
    }
    if (ignoredViews.has(key)) {
      placement.stay.push(key);
      return state;
    }
    if (state.broken) return state;
    if (state.owners.size === 0) {
      placement.stay.push(key);
      return state;
    }
    const reads = [...state.owners].map(([svc, t]) => `${t} (${svc})`);
    if (state.owners.size > 1 || state.staying.length > 0) {
      const why =
        state.owners.size > 1
          ? `reads tables of several services: ${reads.join(', ')}`
          : `reads ${reads.join(', ')} and ${state.staying.join(', ')}, which stays in the source`;
      problems.add(
        'ignore',
        `view ${key} ${why}, so it cannot move with one service`,
        `add ${index.display(view)} to ignore (it stays in the source), or give all the tables it reads to one service`,
      );
      state.broken = true;
      return state;
    }
    const svc = [...state.owners.keys()][0]!;
    const list = placement.byService.get(svc) ?? [];
    list.push(key);
    placement.byService.set(svc, list);
    return state;
  };

  for (const v of index.views) visit(tableKey(v));
  return placement;
}
