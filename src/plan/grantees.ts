/** A service database and the roles its carried privileges name. */
export interface GranteeTarget {
  server: string;
  database: string;
  /** The role the split creates for it, if any. */
  role: string | null;
  grantees: string[];
}

/**
 * Grantees of the source's privileges that do not exist on a service's target server
 * (as read at plan time), or a note that a server could not be asked. The grant step
 * checks again when it runs: a role created since is granted, one dropped since is skipped.
 */
export function missingGrantees(work: GranteeTarget[], targetRoles: Record<string, string[] | null>): string[] {
  const out: string[] = [];
  const created = new Map<string, Set<string>>();
  for (const w of work) if (w.role) created.set(w.server, new Set([...(created.get(w.server) ?? []), w.role]));
  for (const w of work) {
    const grantees = w.grantees;
    if (grantees.length === 0 || w.server === 'source') continue;
    const known = targetRoles[w.server];
    if (known === undefined || known === null) {
      out.push(`could not read the roles of server ${w.server}: privileges of ${w.database} to ${grantees.join(', ')} are granted only to those that exist there when apply runs`);
      continue;
    }
    const missing = grantees.filter((g) => !known.includes(g) && !created.get(w.server)?.has(g));
    if (missing.length > 0) {
      out.push(`role${missing.length > 1 ? 's' : ''} ${missing.join(', ')} do${missing.length > 1 ? '' : 'es'} not exist on server ${w.server}: the source's privileges to ${missing.length > 1 ? 'them' : 'it'} are not carried into ${w.database} (create ${missing.length > 1 ? 'them' : 'it'} there before apply to carry them)`);
    }
  }
  return out;
}
