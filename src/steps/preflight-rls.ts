import type { Plan } from '../plan/model.js';
import { parseKey, tableKey } from '../catalog/model.js';
import { ident, qname } from '../pg/quote.js';
import type { StepContext } from './handler.js';
import type { RoleFacts } from './preflight-privileges.js';

/** The source tables a plan's copies read: copied leaves, tables a target server or a subscription copies, lookups of denormalized columns. */
export function tablesRead(plan: Plan): { keys: Set<string>; queries: string[] } {
  const keys = new Set<string>();
  const queries: string[] = [];
  for (const s of plan.steps) {
    if (s.kind === 'copy_data') {
      keys.add(tableKey(s.source));
      queries.push(s.copyOut);
    } else if (s.kind === 'start_server_copy') {
      for (const t of s.tables) keys.add(t.table);
    } else if (s.kind === 'start_replication') {
      for (const t of s.tables) keys.add(t);
    }
  }
  return { keys, queries };
}

/**
 * The source's tables whose row-level security applies to the tool's role (its policies
 * filter what the role reads: FORCE ROW LEVEL SECURITY on a table it owns, or a table it
 * does not own) among those the plan reads: a copy would silently leave out the rows the
 * policies hide. The tool's sessions turn row_security off, so such a copy fails; this
 * says so before anything is made, with the fix. Empty for a superuser or a BYPASSRLS role.
 */
export async function rowSecurityProblems(ctx: StepContext, f: RoleFacts): Promise<string[]> {
  if (f.superuser) return [];
  const r = await ctx.pools.pool('source').query<{ key: string; forced: boolean }>(
    `SELECT n.nspname || '.' || c.relname AS key, c.relforcerowsecurity AS forced
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND c.relrowsecurity AND pg_catalog.row_security_active(c.oid)
      ORDER BY 1`,
  );
  const { keys, queries } = tablesRead(ctx.plan);
  const filtered = r.rows.filter((row) => keys.has(row.key) || queries.some((q) => q.includes(qname(parseKey(row.key)))));
  if (filtered.length === 0) return [];
  const shown = filtered.map((row) => `${row.key}${row.forced ? ' (FORCE ROW LEVEL SECURITY: its policies apply to its owner too)' : ''}`);
  return [
    `source: row-level security filters what role ${f.user} reads from ${shown.slice(0, 10).join(', ')}${shown.length > 10 ? ` and ${shown.length - 10} more` : ''}: ` +
      `a copy would leave out every row its policies hide. Give the role BYPASSRLS (as a superuser: ALTER ROLE ${ident(f.user)} BYPASSRLS), or run as a superuser`,
  ];
}

/**
 * The tables under FORCE ROW LEVEL SECURITY that a target server's new databases get: their
 * policies apply to their owner too, and so to the tool's role, which owns them (or acts as
 * their owner) there and whose sessions run with row_security off: a foreign key's check,
 * verify's reads and the subscription's writes would fail half way. For a role neither
 * superuser nor BYPASSRLS, named before anything is made.
 */
export function targetRowSecurityProblems(plan: Plan, server: string, f: RoleFacts): string[] {
  if (f.superuser || f.bypassrls) return [];
  const tables = new Set<string>();
  for (const s of plan.steps) {
    if (!('target' in s) || !s.target || s.target.server !== server) continue;
    for (const sql of s.sql) {
      const m = /^ALTER TABLE (.+) FORCE ROW LEVEL SECURITY$/.exec(sql);
      if (m) tables.add(`${m[1]!.replace(/"([a-z_][a-z0-9_$]*)"/g, '$1')} (in ${s.target.database})`);
    }
  }
  if (tables.size === 0) return [];
  const shown = [...tables].sort();
  return [
    `server ${server}: ${shown.slice(0, 10).join(', ')}${shown.length > 10 ? ` and ${shown.length - 10} more` : ''} ${shown.length === 1 ? 'has' : 'have'} FORCE ROW LEVEL SECURITY, whose policies apply there to role ${f.user} too ` +
      `(it owns the new tables, or acts as their owner): foreign key checks, verify and replication would fail half way. ` +
      `Give the role BYPASSRLS on that server (as a superuser: ALTER ROLE ${ident(f.user)} BYPASSRLS), or run as a superuser`,
  ];
}
