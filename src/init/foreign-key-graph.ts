import type { Catalog } from '../catalog/model.js';
import { tableKey } from '../catalog/model.js';
import type { CatalogIndex } from '../manifest/catalog-index.js';

/** One foreign key between two tables, partitions folded into their partitioned root. */
export interface ForeignKeyEdge {
  /** Key of the referencing table. */
  from: string;
  /** Key of the referenced table. */
  to: string;
  constraint: string;
  columns: string[];
  refColumns: string[];
}

/**
 * The foreign keys among the tables being grouped. Invariants: `nodes` are
 * table keys in catalog order; every edge joins two different nodes (a table
 * referencing itself adds nothing to a grouping); `external` holds the keys from
 * a node to a table that is not a node: one left in the source, or outside the
 * schemas being split.
 */
export interface ForeignKeyGraph {
  nodes: string[];
  edges: ForeignKeyEdge[];
  external: Array<ForeignKeyEdge & { target: 'ignored' | 'outside' }>;
  /** Node → the distinct other nodes whose foreign keys reference it. */
  referencedBy: Map<string, Set<string>>;
  /** Node → the distinct nodes it shares a foreign key with, in either direction. */
  neighbours: Map<string, Set<string>>;
}

/**
 * The foreign-key graph over `nodes` (root table keys). A partition's own
 * foreign keys count as its root's, once per pair of roots and columns; the
 * copies a partition inherits from its parent are skipped.
 */
export function foreignKeyGraph(catalog: Catalog, index: CatalogIndex, nodes: readonly string[]): ForeignKeyGraph {
  const isNode = new Set(nodes);
  const graph: ForeignKeyGraph = {
    nodes: [...nodes],
    edges: [],
    external: [],
    referencedBy: new Map(nodes.map((n) => [n, new Set<string>()])),
    neighbours: new Map(nodes.map((n) => [n, new Set<string>()])),
  };
  // A key that each partition declares on its own (or that points at each partition of
  // the referenced table) is one key between the two roots: counted once.
  const seen = new Set<string>();
  for (const t of catalog.tables) {
    // Partitions in other schemas count too: they belong to their root.
    const from = index.rootOf(tableKey(t));
    if (!isNode.has(from)) continue;
    for (const c of t.constraints) {
      if (c.type !== 'f' || !c.references || c.inherited) continue;
      const target = tableKey(c.references.table);
      const to = index.byKey.has(target) ? index.rootOf(target) : target;
      if (to === from) continue;
      const same = JSON.stringify([from, to, c.columns, c.references.columns]);
      if (seen.has(same)) continue;
      seen.add(same);
      const edge: ForeignKeyEdge = { from, to, constraint: c.name, columns: c.columns, refColumns: c.references.columns };
      if (!isNode.has(to)) {
        const inSplit = index.byKey.has(to) && index.schemas.includes(index.byKey.get(to)!.schema);
        graph.external.push({ ...edge, target: inSplit ? 'ignored' : 'outside' });
        continue;
      }
      graph.edges.push(edge);
      graph.referencedBy.get(to)!.add(from);
      graph.neighbours.get(from)!.add(to);
      graph.neighbours.get(to)!.add(from);
    }
  }
  return graph;
}

/** Connected components of `keys` using only edges between two of them, each in `keys` order. */
export function components(graph: ForeignKeyGraph, keys: readonly string[]): string[][] {
  const inSet = new Set(keys);
  const seen = new Set<string>();
  const out: string[][] = [];
  const order = new Map(keys.map((k, i) => [k, i]));
  for (const start of keys) {
    if (seen.has(start)) continue;
    seen.add(start);
    const found = [start];
    for (let i = 0; i < found.length; i++) {
      for (const n of graph.neighbours.get(found[i]!) ?? []) {
        if (inSet.has(n) && !seen.has(n)) {
          seen.add(n);
          found.push(n);
        }
      }
    }
    out.push(found.sort((a, b) => order.get(a)! - order.get(b)!));
  }
  return out;
}
