import { components, type ForeignKeyEdge, type ForeignKeyGraph } from './foreign-key-graph.js';
import { domainMatches, type DraftGroup, type NameOf } from './draft-group.js';

/** A table referenced by at least this many other tables is a hub: it anchors a group instead of gluing groups together. */
export const HUB_MIN_REFERENCES = 2;
/** A hub referenced by at least this share of the other tables with keys, beside other hubs, is universal (see hubGroups). */
export const UNIVERSAL_SHARE = 0.9;

interface Touch {
  /** Keys from the component to the hub. */
  out: number;
  /** Keys from the hub into the component. */
  in: number;
}

/**
 * First pass of the grouping. Every hub starts a group. The other tables fall
 * into connected components once the hubs are taken out of the graph, and each
 * component joins the hub it hangs off: the one whose name it shares, else the
 * one that references it, else the one it has most keys with, else the most
 * specific (least referenced) one. A component of several tables that shares no
 * name with any hub it touches, and that no hub references, stands on its own
 * (a consumer of the hubs' data), as does a component that touches no hub.
 * Tables with no foreign key at all are returned apart, as `lone`.
 */
export function hubGroups(graph: ForeignKeyGraph, nameOf: NameOf): { groups: DraftGroup[]; lone: string[] } {
  const hubs = graph.nodes.filter((n) => graph.referencedBy.get(n)!.size >= HUB_MIN_REFERENCES);
  const hubSet = new Set(hubs);
  // A hub nearly every table references (a tenant or organisation key beside other hubs) says nothing of where a
  // table belongs: a table hanging off it alone is placed by its name, as a table without keys is (Sourcegraph's tenants).
  const universal = new Set(hubs.length > 1 ? hubs.filter((h) => graph.referencedBy.get(h)!.size >= UNIVERSAL_SHARE * (graph.nodes.length - 1)) : []);
  const groups: DraftGroup[] = hubs.map((h) => ({ tables: [h], center: h, reason: 'hub', absorbed: [], byPrefix: [] }));
  const groupOfHub = new Map(hubs.map((h, i) => [h, groups[i]!]));
  const edgesOf = new Map<string, ForeignKeyEdge[]>(graph.nodes.map((n) => [n, []]));
  for (const e of graph.edges) {
    edgesOf.get(e.from)!.push(e);
    edgesOf.get(e.to)!.push(e);
  }
  const lone: string[] = [];
  const standalone: DraftGroup[] = [];
  const rest = graph.nodes.filter((n) => !hubSet.has(n));
  for (const comp of components(graph, rest)) {
    if (comp.length === 1 && graph.neighbours.get(comp[0]!)!.size === 0) {
      lone.push(comp[0]!);
      continue;
    }
    const inComp = new Set(comp);
    const touch = new Map<string, Touch>();
    for (const k of comp) {
      for (const e of edgesOf.get(k)!) {
        const other = e.from === k ? e.to : e.from;
        if (!hubSet.has(other) || inComp.has(other)) continue;
        const t = touch.get(other) ?? { out: 0, in: 0 };
        if (e.from === k) t.out++;
        else t.in++;
        touch.set(other, t);
      }
    }
    const hub = chooseHub(comp, touch, graph, nameOf, universal);
    if (!hub && comp.length === 1) lone.push(comp[0]!);
    else if (hub) groupOfHub.get(hub)!.tables.push(...comp);
    else standalone.push({ tables: comp, center: mostReferenced(comp, graph, nameOf), reason: 'component', absorbed: [], byPrefix: [] });
  }
  return { groups: [...groups, ...standalone], lone };
}

function chooseHub(comp: string[], touch: Map<string, Touch>, graph: ForeignKeyGraph, nameOf: NameOf, universal: ReadonlySet<string>): string | null {
  const scored = [...touch].map(([hub, t]) => ({
    hub,
    match: domainMatches(comp, hub, nameOf),
    in: t.in,
    total: t.in + t.out,
    refs: graph.referencedBy.get(hub)!.size,
  }));
  const eligible = scored.filter((s) => (comp.length === 1 && !universal.has(s.hub)) || s.match > 0 || s.in > 0);
  eligible.sort(
    (a, b) => b.match - a.match || b.in - a.in || b.total - a.total || a.refs - b.refs || (a.hub < b.hub ? -1 : a.hub > b.hub ? 1 : 0),
  );
  return eligible[0]?.hub ?? null;
}

/** The table of `keys` that most others reference; ties go to the shorter name, then to catalog order. */
export function mostReferenced(keys: readonly string[], graph: ForeignKeyGraph, nameOf: NameOf): string {
  let best = keys[0]!;
  for (const k of keys.slice(1)) {
    const d = (graph.referencedBy.get(k)?.size ?? 0) - (graph.referencedBy.get(best)?.size ?? 0);
    if (d > 0 || (d === 0 && nameOf(k).length < nameOf(best).length)) best = k;
  }
  return best;
}
