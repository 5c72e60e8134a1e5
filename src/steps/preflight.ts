import type { PreflightStep } from '../plan/model.js';
import type { StepContext, StepHandler } from './handler.js';
import { controlTargetProblems } from './control-target.js';

export const PREFLIGHT_SQL: readonly string[] = [
  '-- on the source and on every target server:',
  `SELECT current_setting('server_version_num')::int, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user`,
  '-- on every target server, for each new database:',
  `SELECT 1 FROM pg_database WHERE datname = $1  -- absent, created by this split, or empty`,
];

interface ServerFacts {
  version: number;
  superuser: boolean;
  createdb: boolean;
  createrole: boolean;
  user: string;
}

async function facts(ctx: StepContext, server: string): Promise<ServerFacts> {
  const r = await ctx.pools.pool(server).query<{ v: number; rolsuper: boolean; rolcreatedb: boolean; rolcreaterole: boolean; u: string }>(
    `SELECT current_setting('server_version_num')::int AS v, rolsuper, rolcreatedb, rolcreaterole, current_user AS u
     FROM pg_roles WHERE rolname = current_user`,
  );
  const row = r.rows[0]!;
  return { version: row.v, superuser: row.rolsuper, createdb: row.rolcreatedb, createrole: row.rolcreaterole, user: row.u };
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
    const created = await ctx.journal.created();
    for (const server of servers) {
      let f: ServerFacts;
      try {
        f = server === 'source' ? source : await facts(ctx, server);
      } catch (err) {
        problems.push(`server ${server} (${ctx.pools.describe(server)}): cannot connect: ${(err as Error).message}`);
        continue;
      }
      if (!f.superuser && !(f.createdb && (f.createrole || step.roles.length === 0))) {
        const missing = [!f.createdb && 'CREATEDB', !f.createrole && step.roles.length > 0 && 'CREATEROLE'].filter(Boolean).join(' and ');
        problems.push(`server ${server}: role ${f.user} lacks ${missing}; run as a superuser: ALTER ROLE "${f.user}" ${missing.replace(' and ', ' ')}`);
      }
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
            if (n.rowCount) {
              problems.push(`database ${t.database} already exists on server ${server} and is not empty; it was not created by this split. Drop it or choose another name for service ${t.service}.`);
            }
          } finally {
            await client.end();
          }
        }
      }
    }
    problems.push(...(await controlTargetProblems(ctx, step.targets)));
    if (problems.length > 0) throw new Error(`preflight found ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
    return { detail: { sourceVersion: source.version } };
  },
};
