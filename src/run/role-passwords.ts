import pg from 'pg';
import { withCredentials, withDatabase } from '../conn/connection.js';
import { nodePgConfig } from '../conn/node-pg.js';
import { BadInputError } from '../errors.js';
import { expand } from '../manifest/expand.js';
import type { Plan } from '../plan/model.js';
import type { Manifest } from '../manifest/model.js';
import { rejectedLogin } from '../pg/login-check.js';

/**
 * A run resumed after its `create_role` steps were done skips them, so a role keeps the
 * password it was made with: one the manifest's variable no longer holds (changed between
 * the two runs) would leave the service unable to log in, found only by verify. Each such
 * role logs in with the password the variable holds now; a login the server rejects for
 * its password (28P01) refuses the run (exit 2) before anything changes. Anything else
 * (its database not made yet, pg_hba, a server down) is left to the steps.
 */
export async function refuseChangedRolePasswords(plan: Plan, done: ReadonlySet<string>, servers: Record<string, string>, env: NodeJS.ProcessEnv): Promise<void> {
  const wrong: string[] = [];
  for (const step of plan.steps) {
    if (step.kind !== 'create_role' || step.existing || step.password === null || !done.has(step.id)) continue;
    const base = servers[step.server];
    if (!base) continue;
    const svc = plan.services.find((s) => s.role === step.role && s.server === step.server);
    const databaseDone = svc !== undefined && plan.steps.some((s) => s.kind === 'create_database' && s.target.database === svc.database && done.has(s.id));
    const url = withCredentials(databaseDone ? withDatabase(base, svc.database) : base, step.role, expand(step.password, env, `role ${step.role} password`));
    const client = new pg.Client(nodePgConfig(url, { application_name: 'cloudphone-split', connectionTimeoutMillis: 10_000 }));
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (err) {
      if ((err as { code?: string }).code === '28P01') wrong.push(`${step.role} (on server "${step.server}", password ${step.password})`);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  if (wrong.length === 0) return;
  throw new BadInputError(
    `the run resumes after creating ${wrong.length === 1 ? 'this role' : 'these roles'}, and ${wrong.length === 1 ? 'its' : 'their'} password is no longer the one the manifest's variable holds: ${wrong.join('; ')}; nothing was changed`,
    'set the variable back to the password the run began with, or give the role the new one (ALTER ROLE … PASSWORD) and run apply again',
  );
}

/**
 * Each target server is logged in to before the run is recorded: a login it rejects (a
 * password mistyped, or changed since a run began) refuses the run (exit 2), naming the
 * server and the manifest key its URL comes from, before anything changes. Otherwise a
 * first run failed in preflight as a step (exit 3, a failed run journaled), and a resumed
 * one, which skips preflight, failed the first step that went there, after the fence.
 * Anything else (a server down) is left to the steps.
 */
export async function refuseRejectedServerLogins(manifest: Pick<Manifest, 'servers'>, servers: Record<string, string>, resumed: boolean): Promise<void> {
  const targets = Object.entries(servers).filter(([name]) => name !== 'source');
  const rejected = await Promise.all(targets.map(([name, url]) => rejectedLogin(url, `"${name}"`)));
  const i = rejected.findIndex((e) => e !== null);
  if (i === -1) return;
  const name = targets[i]![0];
  throw new BadInputError(
    `${rejected[i]!.message}; ${resumed ? 'the run resumes after its preflight, and ' : ''}nothing was changed`,
    `check the user and password of servers.${name} (${manifest.servers[name] ?? 'its URL'}), then run apply again`,
    { cause: rejected[i] },
  );
}
