import type { CreateRoleStep, FenceSourceStep, GrantStep, Plan, SyncSequencesStep } from '../plan/model.js';
import type { StepContext } from './handler.js';
import { ident, qname } from '../pg/quote.js';
import { parseKey } from '../catalog/model.js';
import { FENCE_SCHEMA } from './fence-source.js';
import { roleOrigin, roleRefusal } from './existing-role.js';

/** The tool's own role on one server, as preflight reads it. */
export interface RoleFacts {
  version: number;
  superuser: boolean;
  createdb: boolean;
  createrole: boolean;
  bypassrls: boolean;
  user: string;
}

const grantFix = (role: string, user: string) => `run as a superuser (or a member of ${role} with ADMIN OPTION): GRANT ${ident(role)} TO ${ident(user)}`;

/**
 * Tables a superuser owns (Supabase's `postgres`): membership of that role would make the
 * tool's role able to act as a superuser, which a least-privilege set-up exists to avoid.
 */
const superuserOwnerFix = (owner: string, what: string, alter: string, user: string) =>
  `${owner} is a superuser, and a member of it could act as one, so do not grant it: run as a superuser, or have one give ${what} to the tool's role (${alter} OWNER TO ${ident(user)})`;

/**
 * The service roles of one target server: each must be usable as the step says (a role the
 * split did not create needs `existing: true`), and an existing one must already be a role
 * the tool can act as (SET and INHERIT from 16, membership before), since it will own the
 * new database. A role the run creates is granted to the tool right after (create_role).
 */
export async function ownerRoleProblems(ctx: StepContext, server: string, f: RoleFacts): Promise<string[]> {
  const problems: string[] = [];
  const steps = ctx.plan.steps.filter((s): s is CreateRoleStep => s.kind === 'create_role' && s.server === server);
  for (const step of steps) {
    const origin = await roleOrigin(ctx, server, step.role);
    const refusal = roleRefusal(step, origin);
    if (refusal) {
      problems.push(refusal);
      continue;
    }
    if (f.superuser || !step.existing) continue;
    const r = await ctx.pools.pool(server).query<{ usage: boolean; set: boolean }>(
      `SELECT pg_has_role(current_user, $1, 'USAGE') AS usage,
              CASE WHEN current_setting('server_version_num')::int >= 160000 THEN pg_has_role(current_user, $1, 'SET') ELSE true END AS set`,
      [step.role],
    );
    const row = r.rows[0]!;
    if (!row.usage || !row.set) {
      problems.push(`server ${server}: role ${f.user} is not a member of ${step.role} (needed to make it the owner of its database): ${grantFix(step.role, f.user)}`);
    }
  }
  return problems;
}

/**
 * What the run does in the source as the tool's role: fence the moved tables (a trigger
 * each: ownership of the table; the fence's schema: CREATE on the database) and, at the
 * end, mark the database as a read-only backup (ownership of the database).
 */
export async function sourceProblems(ctx: StepContext, plan: Plan, f: RoleFacts): Promise<string[]> {
  if (f.superuser) return [];
  const problems: string[] = [];
  const pool = ctx.pools.pool('source');
  const fenced = [...new Set(plan.steps.flatMap((s) => (s.kind === 'fence_source' ? (s as FenceSourceStep).tables : [])))];
  const sequenceKeys = plan.steps.flatMap((s) => (s.kind === 'sync_sequences' ? (s as SyncSequencesStep).sequences.map((q) => `${q.source.schema}.${q.source.name}`) : []));
  // A schema the role may not use: nothing in it can even be named (to_regclass fails), so it is said first, and its tables left out below.
  const schemas = [...new Set([...fenced, ...sequenceKeys].map((k) => parseKey(k).schema))];
  const closed = new Set(
    (
      await pool.query<{ s: string }>(`SELECT s FROM unnest($1::text[]) AS k(s) WHERE NOT has_schema_privilege(s, 'USAGE') ORDER BY 1`, [schemas])
    ).rows.map((r) => r.s),
  );
  for (const schema of closed) {
    problems.push(
      `source: role ${f.user} has no USAGE on schema ${schema}, whose tables and sequences the split reads and fences: as its owner, GRANT USAGE ON SCHEMA ${ident(schema)} TO ${ident(f.user)}, or run as a superuser`,
    );
  }
  const tables = fenced.filter((t) => !closed.has(parseKey(t).schema));
  if (tables.length > 0) {
    const owners = await pool.query<{ t: string; owner: string; super: boolean }>(
      `SELECT k.t, pg_get_userbyid(c.relowner) AS owner, r.rolsuper AS super
       FROM unnest($1::text[]) AS k(t) JOIN pg_class c ON c.oid = to_regclass(k.t) JOIN pg_roles r ON r.oid = c.relowner
       WHERE NOT pg_has_role(current_user, c.relowner, 'USAGE')
       ORDER BY 1`,
      [tables.map((t) => qname(parseKey(t)))],
    );
    const byOwner = new Map<string, { list: string[]; super: boolean }>();
    for (const row of owners.rows) byOwner.set(row.owner, { list: [...(byOwner.get(row.owner)?.list ?? []), row.t], super: row.super });
    for (const [owner, { list, super: su }] of byOwner) {
      problems.push(
        `source: role ${f.user} does not own ${list.length} moved table${list.length === 1 ? '' : 's'} (owner ${owner}: ${list.slice(0, 5).join(', ')}${list.length > 5 ? ', …' : ''}), needed to fence ${list.length === 1 ? 'it' : 'them'}: ` +
          (su ? superuserOwnerFix(owner, list.length === 1 ? 'the table' : 'each table', `ALTER TABLE ${list[0]}${list.length > 1 ? ' …' : ''}`, f.user) : grantFix(owner, f.user)),
      );
    }
    const schema = await pool.query<{ can: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) OR has_database_privilege(current_database(), 'CREATE') AS can`,
      [FENCE_SCHEMA],
    );
    if (!schema.rows[0]!.can) {
      problems.push(`source: role ${f.user} may not create the fence's schema ${FENCE_SCHEMA} in ${plan.source.database}: run as its owner or a superuser: GRANT CREATE ON DATABASE ${ident(plan.source.database)} TO ${ident(f.user)}`);
    }
  }
  // sync_sequences reads each sequence's last_value, which takes SELECT on it (USAGE, what an application holds, is not enough).
  // (The CASE: the planner may test the condition on other pg_class rows before the join, and it errors on a non-sequence.)
  const sequences = [...new Set(plan.steps.flatMap((s) => (s.kind === 'sync_sequences' ? (s as SyncSequencesStep).sequences.filter((q) => !closed.has(q.source.schema)).map((q) => qname(q.source)) : [])))];
  if (sequences.length > 0) {
    const unreadable = await pool.query<{ s: string }>(
      `SELECT k.s FROM unnest($1::text[]) AS k(s) JOIN pg_class c ON c.oid = to_regclass(k.s)
       WHERE CASE WHEN c.relkind = 'S' THEN NOT has_sequence_privilege(c.oid, 'SELECT') ELSE false END ORDER BY 1`,
      [sequences],
    );
    const list = unreadable.rows.map((r) => r.s);
    const shown = list.map((q) => q.replace(/"((?:[^"]|"")*)"/g, (_m, n: string) => n.replaceAll('""', '"')));
    if (list.length > 0) {
      problems.push(
        `source: role ${f.user} may not read ${list.length} sequence${list.length === 1 ? '' : 's'} that sync_sequences sets the new databases from (${shown.slice(0, 5).join(', ')}${list.length > 5 ? ', …' : ''}): ` +
          `run as a superuser or the sequences' owner, or: GRANT SELECT ON SEQUENCE ${list.join(', ')} TO ${ident(f.user)}`,
      );
    }
  }
  // Only a retiring split changes the database itself; the others comment the moved tables, which the fence needs owned anyway.
  if (plan.steps.some((s) => s.kind === 'schedule_retention' && s.retire)) {
    const db = await pool.query<{ owns: boolean; owner: string; super: boolean }>(
      `SELECT pg_has_role(current_user, datdba, 'USAGE') AS owns, pg_get_userbyid(datdba) AS owner, r.rolsuper AS super
         FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE datname = current_database()`,
    );
    const row = db.rows[0];
    if (row && !row.owns) {
      const fix = row.super ? superuserOwnerFix(row.owner, 'the database', `ALTER DATABASE ${ident(plan.source.database)}`, f.user) : grantFix(row.owner, f.user);
      problems.push(`source: role ${f.user} does not own database ${plan.source.database} (owner ${row.owner}), needed to keep it as a read-only backup: ${fix}`);
    }
  }
  return problems;
}

/**
 * A service without a role keeps the access of the roles that used its tables in the
 * source (grant step's `connect`): each must exist on the new database's server.
 */
export async function connectRoleProblems(ctx: StepContext, server: string): Promise<string[]> {
  const problems: string[] = [];
  const steps = ctx.plan.steps.filter((s): s is GrantStep => s.kind === 'grant' && s.target.server === server && (s.connect?.length ?? 0) > 0);
  for (const step of steps) {
    const r = await ctx.pools.pool(server).query<{ role: string }>(
      `SELECT r AS role FROM unnest($1::text[]) AS r WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) ORDER BY 1`,
      [step.connect],
    );
    for (const { role } of r.rows) {
      problems.push(
        `server ${server}: role ${role} uses the tables of ${step.service ?? step.target.service} in the source, but does not exist there to connect to ${step.target.database}: create it on that server (CREATE ROLE ${ident(role)} LOGIN PASSWORD …), or give services.${step.service ?? step.target.service} a role: in the manifest`,
      );
    }
  }
  return problems;
}

/**
 * A service without a role gives each object of its new database to the role owning it in
 * the source (grant step's `owners`): a tool role that is not superuser can only do that
 * as a member of that role. A role missing on the server is skipped (its objects stay the
 * tool's), as the plan says.
 */
export async function keptOwnerProblems(ctx: StepContext, server: string, f: RoleFacts): Promise<string[]> {
  if (f.superuser) return [];
  const owners = [...new Set(ctx.plan.steps.flatMap((s) => (s.kind === 'grant' && s.target.server === server ? ((s as GrantStep).owners ?? []) : [])))].sort();
  if (owners.length === 0) return [];
  const r = await ctx.pools.pool(server).query<{ role: string }>(
    `SELECT o AS role FROM unnest($1::text[]) AS o
      WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = o)
        AND NOT (pg_has_role(current_user, o, 'USAGE')
                 AND (current_setting('server_version_num')::int < 160000 OR pg_has_role(current_user, o, 'SET')))
      ORDER BY 1`,
    [owners],
  );
  return r.rows.map(
    ({ role }) =>
      `server ${server}: role ${f.user} is not a member of ${role}, which owns objects of a service without a role in the source (they are given to it in the new database): ${grantFix(role, f.user)}, or give the service a role: in the manifest`,
  );
}

/**
 * The source's publications that a step makes again on `server` and that only a superuser
 * may create (FOR ALL TABLES, FOR TABLES IN SCHEMA: src/plan/publications.ts).
 */
export function publicationProblems(plan: Plan, server: string, f: RoleFacts): string[] {
  if (f.superuser) return [];
  const problems: string[] = [];
  for (const step of plan.steps) {
    if (step.kind !== 'create_indexes' || step.target.server !== server) continue;
    for (const { name, scope } of step.superuserPublications ?? []) {
      problems.push(
        `server ${server}: publication ${name} of the source is made again in ${step.target.database} (${scope}), which only a superuser may create: ` +
          `run as a superuser, or make it FOR TABLE in the source before planning (ALTER PUBLICATION … SET TABLE …)`,
      );
    }
  }
  return problems;
}

/** `ALTER DATABASE x SET name TO …` (as databaseSettingsSql writes it): the setting's name. */
const SETTING = /^ALTER DATABASE .+? SET ("(?:[^"]|"")+"|[^\s"]+) TO /;

/**
 * The source database's settings the new databases of one target server get (create_database
 * sets them right after CREATE DATABASE): a setting only a superuser may set (a superuser
 * context, or an application's own name, from PostgreSQL 15 without GRANT SET ON PARAMETER)
 * failed there half way, the databases made, every rerun the same. Named before anything
 * is made, with the GRANT. Empty for a superuser.
 */
export async function settingProblems(ctx: StepContext, plan: Plan, server: string, f: RoleFacts): Promise<string[]> {
  if (f.superuser) return [];
  const names = new Set<string>();
  for (const s of plan.steps) {
    if (s.kind !== 'create_database' || s.target.server !== server) continue;
    for (const sql of s.sql) {
      const m = SETTING.exec(sql);
      if (m) names.add(m[1]!.startsWith('"') ? m[1]!.slice(1, -1).replaceAll('""', '"') : m[1]!);
    }
  }
  const pool = ctx.pools.pool(server);
  const refused: string[] = [];
  for (const name of [...names].sort()) {
    const r = await pool.query<{ context: string }>(`SELECT context FROM pg_settings WHERE name = $1`, [name]);
    const context = r.rows[0]?.context;
    if (context === 'user') continue;
    if (f.version >= 150000) {
      const may = await pool.query<{ ok: boolean }>(`SELECT has_parameter_privilege($1, 'SET') AS ok`, [name]).catch(() => null);
      if (may?.rows[0]?.ok) continue;
    } else if (context === undefined) continue;
    refused.push(name);
  }
  if (refused.length === 0) return [];
  return [
    `server ${server}: role ${f.user} may not set ${refused.join(', ')} on the new databases (the source database's ${refused.length === 1 ? 'setting' : 'settings'}, which create_database sets there): ` +
      (f.version >= 150000 ? `as a superuser, GRANT SET ON PARAMETER ${refused.map(ident).join(', ')} TO ${ident(f.user)}, or run as a superuser` : 'run as a superuser'),
  ];
}
