import pg from 'pg';
import { databaseOf, withCredentials, withDatabase } from '../conn/connection.js';
import { errorText, unverifiedBy, type Check, type VerifyContext } from './check.js';
import { nodePgConfig } from '../conn/node-pg.js';

/** Connection refusals that prove a role cannot reach a database. */
const DENIED = new Set(['42501', '28000', '28P01']);
const AUTH_FAILED = new Set(['28P01', '28000']);

/** `lost`: the server could not be reached or the connection broke (no verdict). */
type Attempt = { ok: true } | { ok: false; code: string | undefined; message: string; lost: { unverified?: true } };

async function tryConnect(url: string): Promise<Attempt> {
  const client = new pg.Client(nodePgConfig(url, { connectionTimeoutMillis: 10_000, application_name: 'cloudphone-split verify' }));
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { ok: true };
  } catch (err) {
    return { ok: false, code: (err as { code?: string }).code, message: errorText(err), lost: unverifiedBy(err) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The moved tables (`schema.name`) on which the role holds a privilege in the database of `url`. */
/** A moved table the role reaches, and whether PUBLIC holds a privilege on it (then revoking from the role changes nothing). */
interface Reached {
  table: string;
  public: boolean;
}

async function privilegedTables(url: string, tables: readonly string[]): Promise<Reached[] | { error: string; lost: { unverified?: true } }> {
  const client = new pg.Client({ ...nodePgConfig(url), connectionTimeoutMillis: 10_000, application_name: 'cloudphone-split verify' });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const r = await client.query<{ t: string; public: boolean }>(
      // Found through the catalog, not by name: a name lookup in a schema the role may not use fails with "permission denied for schema", which is the isolation itself.
      `SELECT t, EXISTS (SELECT FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a WHERE a.grantee = 0) AS public
         FROM unnest($1::text[]) AS t
         JOIN pg_namespace n ON n.nspname = split_part(t, '.', 1)
         JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = substr(t, strpos(t, '.') + 1)
        WHERE has_table_privilege(current_user, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE')
        ORDER BY 1`,
      [tables],
    );
    return r.rows.map((row) => ({ table: row.t, public: row.public }));
  } catch (err) {
    return { error: errorText(err), lost: unverifiedBy(err) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * What to do about moved tables a service role still reaches in the source: a privilege
 * PUBLIC holds (`GRANT … TO PUBLIC`) reaches every role, so revoking from the role alone
 * changes nothing.
 */
function reachedDetail(role: string, label: string, reached: readonly Reached[]): string {
  const viaPublic = reached.filter((r) => r.public).map((r) => r.table);
  const direct = reached.filter((r) => !r.public).map((r) => r.table);
  const parts: string[] = [];
  if (direct.length > 0) parts.push(`${direct.join(', ')}: REVOKE ALL ON ${direct.join(', ')} FROM ${role} (and from the roles it belongs to)`);
  if (viaPublic.length > 0) {
    parts.push(
      `${viaPublic.join(', ')} through PUBLIC (granted to PUBLIC in the source, so every role reads the backup there): REVOKE ALL ON ${viaPublic.join(', ')} FROM PUBLIC ` +
        `(what still needs them there then needs a grant of its own)`,
    );
  }
  return `role ${role} holds privileges on moved tables in ${label}: ${parts.join('; ')}`;
}

interface Place {
  label: string;
  server: string;
  database: string;
}

/**
 * Each service role connects to its own database and to no other: not to another
 * service's database, not to the source. A role whose password was not given is
 * still tried (trust or peer authentication may let it in); when it cannot log in
 * at all, the check says which variable to set.
 */
export async function isolationChecks(ctx: VerifyContext): Promise<Check[]> {
  const sourceDb = databaseOf(ctx.servers.source ?? ctx.pools.serverUrl('source'));
  const places: Array<Place & { service: string | null }> = [
    ...ctx.plan.services.map((s) => ({ label: `${s.database} (${s.name})`, server: s.server, database: s.database, service: s.name })),
    { label: `${sourceDb} (the source)`, server: 'source', database: sourceDb, service: null },
  ];
  const withRole = ctx.plan.services.filter((s) => s.role);
  // A split that does not retire the source leaves it in use: connecting to it is expected; its moved tables must stay out of reach.
  const retire = ctx.plan.steps.find((s) => s.kind === 'schedule_retention')?.retire ?? true;
  const perService = await Promise.all(
    withRole.map(async (svc): Promise<Check[]> => {
      const checks: Check[] = [];
      const role = svc.role!;
      const password = ctx.rolePasswords[role] ?? null;
      const urlFor = (p: Place) => withDatabase(withCredentials(ctx.servers[p.server] ?? ctx.pools.serverUrl(p.server), role, password), p.database);
      const base = { kind: 'isolation' as const, service: svc.name };
      const own = await tryConnect(urlFor({ label: svc.database, server: svc.server, database: svc.database }));
      if (!own.ok) {
        const noPassword = password === null && (AUTH_FAILED.has(own.code ?? '') || /password/i.test(own.message));
        checks.push({
          ...base,
          ok: false,
          target: svc.database,
          detail: noPassword
            ? `cannot check isolation of role ${role}: it has no password here; set the variable named in services.${svc.name}.role.password and run verify again`
            : `role ${role} cannot connect to its own database ${svc.database}: ${own.message}`,
          ...(noPassword ? {} : own.lost),
        });
        return checks;
      }
      checks.push({ ...base, ok: true, target: svc.database, detail: `role ${role} connects to its own database ${svc.database}` });
      const others = places.filter((p) => p.service !== svc.name);
      const attempts = await Promise.all(others.map(async (p) => ({ p, a: await tryConnect(urlFor(p)) })));
      for (const { p, a } of attempts) {
        if (a.ok && p.service === null && ctx.sourceOpen) {
          checks.push({
            ...base,
            ok: true,
            target: p.database,
            detail: `role ${role} can still connect to ${p.label}: it stays open until the last service of the split is applied (schedule_retention revokes CONNECT then)`,
          });
        } else if (a.ok && p.service === null && !retire) {
          const tables = svc.tables.map((t) => t.name);
          const reached = await privilegedTables(urlFor(p), tables);
          if (Array.isArray(reached) && reached.length === 0) {
            checks.push({ ...base, ok: true, target: p.database, detail: `role ${role} can connect to ${p.label}, which stays in use (source.retire is false), but holds no privilege on its ${tables.length} moved tables there` });
          } else {
            checks.push({
              ...base,
              ok: false,
              target: p.database,
              detail: Array.isArray(reached)
                ? reachedDetail(role, p.label, reached)
                : `could not tell whether role ${role} reaches its moved tables in ${p.label}: ${reached.error}`,
              ...(Array.isArray(reached) ? {} : reached.lost),
            });
          }
        } else if (a.ok) {
          checks.push({
            ...base,
            ok: false,
            target: p.database,
            detail: `role ${role} can connect to ${p.label}: REVOKE CONNECT ON DATABASE "${p.database}" FROM PUBLIC (and from ${role})`,
          });
        } else if (DENIED.has(a.code ?? '') || a.code === '3D000') {
          checks.push({ ...base, ok: true, target: p.database, detail: `role ${role} cannot connect to ${p.label}` });
        } else {
          checks.push({ ...base, ok: false, target: p.database, detail: `could not tell whether role ${role} can connect to ${p.label}: ${a.message}`, ...a.lost });
        }
      }
      return checks;
    }),
  );
  return perService.flat();
}
