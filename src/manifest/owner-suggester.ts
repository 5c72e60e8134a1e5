import type { Catalog, Table } from '../catalog/model.js';
import { tableKey } from '../catalog/model.js';

/**
 * For the fix of an unassigned table: the service most of its foreign keys point
 * to, else the service whose tables point to it most. Ties go to the service
 * listed first; null when no key touches an owned table.
 */
export function ownerSuggester(
  catalog: Catalog,
  ownerOf: (key: string) => string | null,
  serviceOrder: readonly string[],
): (t: Table) => string | null {
  const incoming = new Map<string, string[]>();
  for (const t of catalog.tables) {
    for (const c of t.constraints) {
      if (c.type !== 'f' || !c.references) continue;
      const ref = tableKey(c.references.table);
      const from = incoming.get(ref) ?? [];
      from.push(tableKey(t));
      incoming.set(ref, from);
    }
  }
  const mostOwned = (keys: string[]): string | null => {
    const counts = new Map<string, number>();
    for (const k of keys) {
      const o = ownerOf(k);
      if (o) counts.set(o, (counts.get(o) ?? 0) + 1);
    }
    let best: string | null = null;
    for (const s of serviceOrder) if ((counts.get(s) ?? 0) > (best ? counts.get(best)! : 0)) best = s;
    return best;
  };
  return (t) => {
    const outgoing = t.constraints.filter((c) => c.type === 'f' && c.references).map((c) => tableKey(c.references!.table));
    return mostOwned(outgoing) ?? mostOwned(incoming.get(tableKey(t)) ?? []);
  };
}
