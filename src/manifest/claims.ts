import type { CatalogIndex } from './catalog-index.js';
import { matchEntry, type EntryMatch, type EntryProblem } from './match-entry.js';
import type { Manifest } from './model.js';
import { joinPath, type ProblemList } from './problem-list.js';

/** One manifest entry of `services.<name>.tables` taking a table. */
export interface Claim {
  service: string;
  /** Key path of the entry, `services.main.tables[0]`. */
  path: string;
  /** The entry names the table exactly (no glob). */
  exact: boolean;
  /** Every table key the entry matches: a glob is more specific than another when it matches fewer of the same. */
  matches: ReadonlySet<string>;
}

/** Who owns which table after precedence; a table left in conflict (reported once) is in `contested`, and in `owners` under its first claim. */
export interface Ownership {
  owners: Map<string, Claim>;
  contested: Set<string>;
}

/** Whether claim `a` beats claim `b` for a table both match. */
function beats(a: Claim, b: Claim): boolean {
  if (a.exact !== b.exact) return a.exact;
  if (a.exact) return false;
  // Two globs: the narrower one wins when everything it matches, the broader one matches too.
  if (a.matches.size >= b.matches.size) return false;
  for (const k of a.matches) if (!b.matches.has(k)) return false;
  return true;
}

/**
 * Decides the owner of every table named by the services' `tables` (SPEC §1, README
 * "The manifest"): an exact name beats a glob, and a glob beats a broader glob that
 * matches everything it matches (`ci_*` beats `*`), so `main: ["*"]` beside `ci: ["ci_*"]`
 * means "ci takes the ci_ tables, main the rest". Entries of several services that no
 * rule orders (two exact names, two overlapping globs) are a conflict, reported once per
 * table with the entries involved.
 */
export function resolveOwnership(
  manifest: Manifest,
  index: CatalogIndex,
  problems: ProblemList,
  suggested: Set<string>,
  shown: (key: string) => string,
  /** Applied to every entry's match: takes out what earlier splits moved (moved-filter.ts). */
  filter: (m: EntryMatch | EntryProblem, entry: string) => EntryMatch | EntryProblem = (m) => m,
  /** Where a table one service names exactly twice is noted (harmless: one copy is made). */
  warnings?: ProblemList,
): Ownership {
  const claims = new Map<string, Claim[]>();
  // Problems are reported in manifest order: a conflict at the entry of its second claim.
  const order = new Map<string, number>();
  const pending: Array<{ path: string; message: string; fix: string }> = [];
  for (const s of manifest.services) {
    s.tables.forEach((entry, i) => {
      const path = joinPath(`${joinPath('services', s.name)}.tables`, i);
      order.set(path, order.size);
      const m = filter(matchEntry(entry, index, false), entry);
      if ('message' in m) {
        for (const k of m.suggested) suggested.add(k);
        return pending.push({ path, message: m.message, fix: m.fix });
      }
      const claim: Claim = { service: s.name, path, exact: !m.isGlob, matches: new Set(m.tables) };
      for (const key of m.tables) claims.set(key, [...(claims.get(key) ?? []), claim]);
    });
  }
  const owners = new Map<string, Claim>();
  const contested = new Set<string>();
  for (const [key, list] of claims) {
    for (const [i, c] of list.entries()) {
      const earlier = list.slice(0, i).find((d) => d.service === c.service && d.exact && c.exact);
      if (earlier) warnings?.add(c.path, `${shown(key)} is listed twice in services.${c.service}.tables (also ${earlier.path})`, 'remove one of them');
    }
    const winners = list.filter((c) => !list.some((d) => d.service !== c.service && beats(d, c)));
    const services = [...new Set(winners.map((c) => c.service))];
    if (services.length === 1) {
      // The entry that placed it: an exact name when the service has one for it.
      owners.set(key, winners.find((c) => c.exact) ?? winners[0]!);
      continue;
    }
    contested.add(key);
    owners.set(key, winners[0]!);
    const [first, second] = [winners[0]!, winners.find((c) => c.service !== winners[0]!.service)!];
    const fix =
      first.exact && second.exact
        ? 'keep it in the tables of one service; the other can list it under copies'
        : `name it exactly in the service that should own it (an exact name beats a glob), or narrow one of the globs`;
    pending.push({ path: second.path, message: `${shown(key)} is owned twice: by ${first.service} (${first.path}) and by ${second.service}`, fix });
  }
  pending.sort((a, b) => order.get(a.path)! - order.get(b.path)!);
  for (const p of pending) problems.add(p.path, p.message, p.fix);
  return { owners, contested };
}
