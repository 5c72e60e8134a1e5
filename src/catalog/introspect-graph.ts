import type { DepEdge, DepKind } from './introspect-deps.js';
import { sortedUnique } from './introspect-util.js';

/** Keys of what an object needs, grouped by kind, each list sorted. */
export interface Needs {
  types: string[];
  functions: string[];
  sequences: string[];
  extensions: string[];
  relations: string[];
  /** What no step creates (see `DepKind`), as PostgreSQL describes it. */
  uncarried: string[];
}

/** PostgreSQL's description of an object, without the quotes it puts around names that need none (read with an empty search_path). */
const readable = (what: string | null | undefined): string | null => what?.replace(/"([a-z_][a-z0-9_]*)"/g, '$1') ?? null;

type Namer = Record<Exclude<DepKind, 'uncarried'>, (oid: number) => string | null>;

/**
 * The direct dependency edges found in the catalog, with names for their ends.
 * `closure` follows types and functions transitively (a domain over citext
 * needs the citext extension; a range needs its subtype_diff function).
 */
export class DependencyGraph {
  private readonly out = new Map<string, DepEdge[]>();

  constructor(
    edges: DepEdge[],
    private readonly name: Namer,
  ) {
    for (const e of edges) {
      const k = `${e.owner}:${e.ownerOid}`;
      const list = this.out.get(k);
      if (list) list.push(e);
      else this.out.set(k, [e]);
    }
  }

  direct(owner: DepEdge['owner'], oid: number): Needs {
    return this.collect(this.out.get(`${owner}:${oid}`) ?? []);
  }

  closure(owner: DepEdge['owner'], oid: number): Needs {
    const seen = new Set<string>();
    const found: DepEdge[] = [];
    const queue: Array<[DepEdge['owner'], number]> = [[owner, oid]];
    while (queue.length > 0) {
      const [o, id] = queue.pop()!;
      for (const e of this.out.get(`${o}:${id}`) ?? []) {
        const k = `${e.kind}:${e.oid}`;
        if (seen.has(k)) continue;
        seen.add(k);
        found.push(e);
        if (e.kind === 'type' || e.kind === 'function') queue.push([e.kind, e.oid]);
      }
    }
    // Relations are direct only: a view's tables, not the tables of the functions it calls.
    return { ...this.collect(found), relations: this.direct(owner, oid).relations };
  }

  private collect(edges: DepEdge[]): Needs {
    const pick = (kind: DepKind) =>
      sortedUnique(edges.filter((e) => e.kind === kind).flatMap((e) => (kind === 'uncarried' ? readable(e.what) : this.name[kind](e.oid)) ?? []));
    return {
      types: pick('type'),
      functions: pick('function'),
      sequences: pick('sequence'),
      extensions: pick('extension'),
      relations: pick('relation'),
      uncarried: pick('uncarried'),
    };
  }
}
