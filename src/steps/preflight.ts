import type { PreflightStep } from '../plan/model.js';
import type { StepContext, StepHandler } from './handler.js';
import { poolerProblem, sharesSessions } from '../pg/pooler.js';
import { connectRoleProblems, keptOwnerProblems, ownerRoleProblems, publicationProblems, settingProblems, sourceProblems, type RoleFacts } from './preflight-privileges.js';
import { controlTargetProblems } from './control-target.js';
import { TARGET_FENCE_SCHEMA, TARGET_FENCE_TRIGGER } from '../online/reverse-sql.js';
import { rowSecurityProblems, targetRowSecurityProblems } from './preflight-rls.js';
import { ident } from '../pg/quote.js';

export const PREFLIGHT_SQL: readonly string[] = [
  '-- on the source and on every target server:',
  `SELECT current_setting('server_version_num')::int, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = current_user`,
  '-- on the source and on every target server, from two connections: does each keep its own session (no transaction pooler)?',
  `SELECT pg_backend_pid(), current_setting('cloudphone_split.session_probe', true)`,
  '-- on every target server, for each service role: exists only if this split created it, or the manifest says existing: true;',
  '-- an existing one is a role the tool can SET ROLE to and inherit from:',
  `SELECT pg_has_role(current_user, $1, 'SET'), pg_has_role(current_user, $1, 'USAGE')`,
  '-- on the source, unless superuser: the moved tables and the database are owned by a role the tool inherits from:',
  `SELECT pg_has_role(current_user, relowner, 'USAGE') FROM pg_class WHERE oid = $1::regclass`,
  `SELECT pg_has_role(current_user, datdba, 'USAGE') FROM pg_database WHERE datname = current_database()`,
  "-- on the source, unless superuser: no table the copies read is filtered by row-level security for the tool's role:",
  `SELECT oid::regclass FROM pg_class WHERE relkind IN ('r', 'p') AND relrowsecurity AND row_security_active(oid)`,
  '-- on every target server, for each new database:',
  `SELECT 1 FROM pg_database WHERE datname = $1  -- absent, created by this split, or empty`,
];

type ServerFacts = RoleFacts;

async function facts(ctx: StepContext, server: string): Promise<ServerFacts> {
  const r = await ctx.pools.pool(server).query<{ v: number; rolsuper: boolean; rolcreatedb: boolean; rolcreaterole: boolean; rolbypassrls: boolean; u: string }>(
    `SELECT current_setting('server_version_num')::int AS v, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls, current_user AS u
     FROM pg_roles WHERE rolname = current_user`,
  );
  const row = r.rows[0]!;
  return { version: row.v, superuser: row.rolsuper, createdb: row.rolcreatedb, createrole: row.rolcreaterole, bypassrls: row.rolbypassrls, user: row.u };
}

/**
 * Checks everything that can be known before changing anything: connectivity,
 * privileges, versions, free database names. Reports every problem at once.
 */
export const preflight: StepHandler<'preflight'> = {
  render: (step) => [...PREFLIGHT_SQL, ...step.sql],
  async run(ctx, step: PreflightStep) {
    const problems: string[] = [];
    const source = await facts(ctx, 'source');
    const servers = [...new Set(step.targets.map((t) => t.server))];
    if (!servers.includes('source') && (await sharesSessions(() => ctx.pools.client('source')))) problems.push(poolerProblem('source', ctx.pools.describe('source')));
    const created = await ctx.journal.created();
    for (const server of servers) {
      let f: ServerFacts;
      try {
        f = server === 'source' ? source : await facts(ctx, server);
      } catch (err) {
        problems.push(`server ${server} (${ctx.pools.describe(server)}): cannot connect: ${(err as Error).message}`);
        continue;
      }
      if (await sharesSessions(() => ctx.pools.client(server))) problems.push(poolerProblem(server, ctx.pools.describe(server)));
      if (!f.superuser && !(f.createdb && (f.createrole || step.roles.length === 0))) {
        const missing = [!f.createdb && 'CREATEDB', !f.createrole && step.roles.length > 0 && 'CREATEROLE'].filter(Boolean).join(' and ');
        problems.push(`server ${server}: role ${f.user} lacks ${missing}; run as a superuser: ALTER ROLE "${f.user}" ${missing.replace(' and ', ' ')}`);
      }
      problems.push(...(await ownerRoleProblems(ctx, server, f)));
      problems.push(...(await connectRoleProblems(ctx, server)));
      problems.push(...(await keptOwnerProblems(ctx, server, f)));
      problems.push(...publicationProblems(ctx.plan, server, f));
      problems.push(...targetRowSecurityProblems(ctx.plan, server, f));
      problems.push(...(await settingProblems(ctx, ctx.plan, server, f)));
      if (Math.floor(f.version / 10000) < Math.floor(source.version / 10000)) {
        problems.push(
          `server ${server} runs PostgreSQL ${Math.floor(f.version / 10000)}, older than the source's ${Math.floor(source.version / 10000)}: the schema may not load there; use a target at least as new as the source`,
        );
      }
      for (const t of step.targets.filter((x) => x.server === server)) {
        const exists = await ctx.pools.pool(server).query(`SELECT 1 FROM pg_database WHERE datname = $1`, [t.database]);
        const ours = created.some((o) => o.kind === 'database' && o.server === server && o.name === t.database);
        if (exists.rowCount && !ours) {
          const client = await ctx.pools.client(server, t.database);
          try {
            const n = await client.query(
              `SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname NOT IN ('pg_catalog','information_schema','pg_toast','cloudphone_split') AND n.nspname NOT LIKE 'pg_%' LIMIT 1`,
            );
            // A rollback through reverse replication keeps the new databases, fenced by its own trigger function.
            const kept = await client.query(
              `SELECT 1 FROM pg_trigger g JOIN pg_proc p ON p.oid = g.tgfoid JOIN pg_namespace s ON s.oid = p.pronamespace
                WHERE g.tgname = $1 AND s.nspname = $2 AND p.proname = 'rolled_back' LIMIT 1`,
              [TARGET_FENCE_TRIGGER, TARGET_FENCE_SCHEMA],
            );
            if (kept.rowCount) {
              problems.push(
                `database ${t.database} already exists on server ${server} and is not empty: a rollback kept it after an online cutover (its tables are fenced, and every write made to it went back to the source). ` +
                  `To apply again, drop it once nothing in it is needed (DROP DATABASE ${ident(t.database)}), or choose another name for service ${t.service}.`,
              );
            } else if (n.rowCount) {
              problems.push(`database ${t.database} already exists on server ${server} and is not empty; it was not created by this split. Drop it or choose another name for service ${t.service}.`);
            }
          } finally {
            await client.end();
          }
        }
      }
    }
    problems.push(...(await sourceProblems(ctx, ctx.plan, source)));
    problems.push(...(await rowSecurityProblems(ctx, source)));
    problems.push(...(await controlTargetProblems(ctx, step.targets)));
    if (problems.length > 0) throw new Error(`preflight found ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
    return { detail: { sourceVersion: source.version } };
  },
};
