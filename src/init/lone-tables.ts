import type { DraftGroup, NameOf } from './draft-group.js';
import { tableDomain } from './table-family.js';

/**
 * Third pass: tables without any foreign key. Each joins the group whose center
 * shares its name domain (`device_logs` joins the devices group, `payment_webhooks`
 * the billing group around orders), else the group with most tables of that
 * domain. Lone tables sharing a domain with no group form a group of their own;
 * whatever is left goes to one catch-all group (reason 'rest').
 */
export function placeLoneTables(groups: DraftGroup[], lone: readonly string[], nameOf: NameOf): DraftGroup[] {
  const out = groups.map((g) => ({ ...g, tables: [...g.tables], byPrefix: [...g.byPrefix] }));
  const domainsOf = out.map((g) => ({
    center: g.center === null ? null : tableDomain(nameOf(g.center)),
    counts: countDomains(g.tables, nameOf),
  }));
  const unplaced = new Map<string, string[]>();
  const rest: string[] = [];
  for (const t of lone) {
    const d = tableDomain(nameOf(t));
    if (d === null) {
      rest.push(t);
      continue;
    }
    let best = -1;
    let bestScore = 0;
    out.forEach((_, i) => {
      const score = (domainsOf[i]!.center === d ? 1_000_000 : 0) + (domainsOf[i]!.counts.get(d) ?? 0);
      if (score > bestScore) {
        best = i;
        bestScore = score;
      }
    });
    if (best >= 0) {
      out[best]!.tables.push(t);
      out[best]!.byPrefix.push(t);
    } else unplaced.set(d, [...(unplaced.get(d) ?? []), t]);
  }
  for (const tables of unplaced.values()) {
    if (tables.length < 2) {
      rest.push(...tables);
      continue;
    }
    const center = [...tables].sort((a, b) => nameOf(a).length - nameOf(b).length)[0]!;
    out.push({ tables, center, reason: 'prefix', absorbed: [], byPrefix: [] });
  }
  if (rest.length > 0) {
    const order = new Map(lone.map((k, i) => [k, i]));
    rest.sort((a, b) => order.get(a)! - order.get(b)!);
    out.push({ tables: rest, center: null, reason: 'rest', absorbed: [], byPrefix: [] });
  }
  return out;
}

function countDomains(tables: readonly string[], nameOf: NameOf): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of tables) {
    const d = tableDomain(nameOf(k));
    if (d !== null) m.set(d, (m.get(d) ?? 0) + 1);
  }
  return m;
}
