import type pg from 'pg';
import { ident } from '../pg/quote.js';
import type { CreatedObject } from '../steps/handler.js';
import { databaseClient, maintenanceClient, serverVersionNum } from '../retention/maintenance-client.js';
import { identityState } from './identity-check.js';
import { watchedDrop } from '../pg/drop-wait.js';

/** One database or role rollback handled, and how. */
export interface Dropped {
  server: string;
  name: string;
  /** `dropped`, or `absent` when it was already gone. */
  outcome: 'dropped' | 'absent';
}

/** A database or role rollback could not drop; the journal keeps it, so a rerun tries again. */
export interface DropFailure {
  server: string;
  name: string;
  problem: string;
  /** Kept on purpose: it holds data written since the copy (exit 1, a difference, not a failed step). */
  holdsData?: boolean;
}

/** Told what a drop that takes long waits for (a line for the user). */
export type DropNotice = (message: string) => void;

/**
 * The data check again, on a session held in the database to drop once no other session
 * can be in it: what changed since the copy, as lines (none: it may be dropped).
 */
export type DropRecheck = (database: CreatedObject, client: pg.Client) => Promise<string[]>;

/**
 * Opens again each database the split created that a rollback killed between closing it
 * and dropping it left closed (`ALLOW_CONNECTIONS false`): its check and its services need
 * it open. Returns a line for each.
 */
export async function reopenClosed(servers: Record<string, string>, databases: CreatedObject[]): Promise<string[]> {
  const notes: string[] = [];
  const failures: DropFailure[] = [];
  await onServers(servers, databases, async (admin, o) => {
    const r = await admin.query<{ open: boolean }>(`SELECT datallowconn AS open FROM pg_database WHERE datname = $1`, [o.name]);
    if (r.rows[0]?.open !== false) return;
    if ((await identityState(admin, o)).state !== 'ours') return;
    await admin.query(`ALTER DATABASE ${ident(o.name)} ALLOW_CONNECTIONS true`);
    notes.push(`${o.name} on ${o.server} was left closed to new sessions by a rollback stopped before its drop: opened again`);
  }, failures);
  return [...notes, ...failures.map((f) => `${f.name} on ${f.server}: ${f.problem}`)];
}

/**
 * Closes the database to every new session, ends the others (their uncommitted work is
 * lost, as a forced drop would lose it; what they committed is there to be seen), then
 * runs `recheck` on the one session kept: rollback's check ran before the prompt, the
 * config restore and the restarts, and a service still connected may have written since.
 * A change found opens the database again and keeps it.
 */
async function closedAndUnchanged(admin: pg.Client, o: CreatedObject, url: string, recheck: DropRecheck): Promise<string | null> {
  const held = await databaseClient(url, o.name, 'target');
  try {
    const pid = (await held.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await admin.query(`ALTER DATABASE ${ident(o.name)} ALLOW_CONNECTIONS false`);
    let changes: string[];
    try {
      for (let i = 0; ; i++) {
        const left = await admin.query<{ n: number }>(
          `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> $2`,
          [o.name, pid],
        );
        if ((left.rows[0]?.n ?? 0) === 0) break;
        if (i >= 50) throw new Error(`sessions in ${o.name} did not end within 10 s`);
        await new Promise((r) => setTimeout(r, 200));
      }
      changes = await recheck(o, held);
    } catch (err) {
      await admin.query(`ALTER DATABASE ${ident(o.name)} ALLOW_CONNECTIONS true`).catch(() => undefined);
      throw err;
    }
    if (changes.length === 0) return null;
    await admin.query(`ALTER DATABASE ${ident(o.name)} ALLOW_CONNECTIONS true`);
    return (
      `written to after rollback checked it, so it was kept: ${changes.join('; ')}. ` +
      'Those writes exist only there: move them to the old database (the config points there again), then run rollback again'
    );
  } finally {
    await held.end().catch(() => undefined);
  }
}

/**
 * DROP DATABASE ... WITH (FORCE) on 13+ (what it waits for told to `notify` while it
 * takes long); before 13, end the sessions first and retry while some linger.
 */
async function dropDatabase(admin: pg.Client, name: string, version: number, url: string, notify?: DropNotice): Promise<void> {
  if (version >= 130_000) {
    await watchedDrop(admin, `DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`, name, notify, () => maintenanceClient(url, [name]));
    return;
  }
  for (let attempt = 0; ; attempt++) {
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [name]);
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${ident(name)}`);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== '55006' || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function onServers<T extends CreatedObject>(
  servers: Record<string, string>,
  objects: T[],
  fn: (admin: pg.Client, object: T, version: number, url: string) => Promise<void>,
  failures: DropFailure[],
): Promise<void> {
  const byServer = new Map<string, T[]>();
  for (const o of objects) byServer.set(o.server, [...(byServer.get(o.server) ?? []), o]);
  for (const [server, list] of byServer) {
    const url = servers[server];
    if (!url) {
      for (const o of list) failures.push({ server, name: o.name, problem: `the manifest has no server named "${server}" any more` });
      continue;
    }
    const admin = await maintenanceClient(url, list.map((o) => o.name));
    try {
      const version = await serverVersionNum(admin);
      for (const o of list) await fn(admin, o, version, url);
    } finally {
      await admin.end().catch(() => undefined);
    }
  }
}

/**
 * Drops the databases the split created (never adopted ones: the caller filters them),
 * ending the sessions in them. `forget` runs after each one, so a rollback stopped
 * half-way picks up where it was.
 */
export async function dropDatabases(
  servers: Record<string, string>,
  databases: CreatedObject[],
  forget: (o: CreatedObject) => Promise<void>,
  notify?: DropNotice,
  recheck?: DropRecheck,
): Promise<{ done: Dropped[]; failures: DropFailure[] }> {
  const done: Dropped[] = [];
  const failures: DropFailure[] = [];
  await onServers(servers, databases, async (admin, o, version, url) => {
    // Re-checked now, right before the drop: same cluster, same OID as recorded after CREATE DATABASE.
    const identity = await identityState(admin, o);
    if (identity.state === 'refused') {
      failures.push({ server: o.server, name: o.name, problem: identity.reason });
      return;
    }
    const existed = identity.state === 'ours';
    if (existed && recheck) {
      const kept = await closedAndUnchanged(admin, o, url, recheck);
      if (kept) {
        failures.push({ server: o.server, name: o.name, problem: kept, holdsData: true });
        return;
      }
    }
    if (existed) await dropDatabase(admin, o.name, version, url, notify);
    await forget(o);
    done.push({ server: o.server, name: o.name, outcome: existed ? 'dropped' : 'absent' });
  }, failures);
  return { done, failures };
}

/**
 * Drops the roles the split created. A role that still owns something or holds a
 * privilege somewhere (2BP01) is kept and reported with what PostgreSQL says it
 * depends on; the others are dropped.
 */
export async function dropRoles(
  servers: Record<string, string>,
  roles: CreatedObject[],
  forget: (o: CreatedObject) => Promise<void>,
): Promise<{ done: Dropped[]; failures: DropFailure[] }> {
  const done: Dropped[] = [];
  const failures: DropFailure[] = [];
  await onServers(servers, roles, async (admin, o) => {
    const identity = await identityState(admin, o);
    if (identity.state === 'refused') {
      failures.push({ server: o.server, name: o.name, problem: identity.reason });
      return;
    }
    const existed = identity.state === 'ours';
    try {
      if (existed) await admin.query(`DROP ROLE IF EXISTS ${ident(o.name)}`);
    } catch (err) {
      const e = err as { code?: string; message: string; detail?: string };
      if (e.code !== '2BP01') throw err;
      failures.push({ server: o.server, name: o.name, problem: `${e.message}${e.detail ? `: ${e.detail.replace(/\n/g, '; ')}` : ''}` });
      return;
    }
    await forget(o);
    done.push({ server: o.server, name: o.name, outcome: existed ? 'dropped' : 'absent' });
  }, failures);
  return { done, failures };
}

/** What rollback did in a database it adopted (it existed, empty, before the split). */
export interface Released {
  server: string;
  name: string;
  /** Split roles whose objects in it were dropped and whose ownership went back to the session user. */
  roles: string[];
}

/**
 * An adopted database is kept, but what the split's roles own in it is dropped
 * (the tables the split copied there: it was empty before) and what they still own
 * there, the database itself included, goes to the session user; so the roles can
 * be dropped next. Roles that do not exist any more are skipped.
 */
export async function releaseAdopted(
  servers: Record<string, string>,
  adopted: CreatedObject[],
  roles: CreatedObject[],
  forget: (o: CreatedObject) => Promise<void>,
): Promise<{ done: Released[]; failures: DropFailure[] }> {
  const done: Released[] = [];
  const failures: DropFailure[] = [];
  for (const db of adopted) {
    const url = servers[db.server];
    if (!url) {
      failures.push({ server: db.server, name: db.name, problem: `the manifest has no server named "${db.server}" any more` });
      continue;
    }
    const names = roles.filter((r) => r.server === db.server).map((r) => r.name);
    const admin = await maintenanceClient(url, [db.name]);
    let present: string[];
    let exists: boolean;
    try {
      const identity = await identityState(admin, db);
      if (identity.state === 'refused') {
        failures.push({ server: db.server, name: db.name, problem: identity.reason });
        continue;
      }
      exists = identity.state === 'ours';
      present = (await admin.query<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE rolname = ANY ($1::text[])`, [names])).rows.map((r) => r.rolname);
    } finally {
      await admin.end().catch(() => undefined);
    }
    if (exists && present.length > 0) {
      const client = await databaseClient(url, db.name, 'target');
      try {
        for (const role of present) {
          await client.query(`DROP OWNED BY ${ident(role)}`);
          await client.query(`REASSIGN OWNED BY ${ident(role)} TO CURRENT_USER`);
        }
      } finally {
        await client.end().catch(() => undefined);
      }
    }
    await forget(db);
    done.push({ server: db.server, name: db.name, roles: exists ? present : [] });
  }
  return { done, failures };
}

/**
 * What a rollback drops of what the split created, in order: its databases, then what its
 * roles own in the databases it adopted (kept: they existed before), then its roles.
 * Each object is forgotten by the journal once gone; failures are returned, not thrown.
 */
export async function dropCreated(
  servers: Record<string, string>,
  created: { databases: CreatedObject[]; adopted: CreatedObject[]; roles: CreatedObject[] },
  forget: (o: CreatedObject) => Promise<void>,
  notify?: DropNotice,
  recheck?: DropRecheck,
): Promise<{
  databases: Dropped[];
  roles: Dropped[];
  keptDatabases: Array<{ server: string; name: string; reason: string }>;
  problems: DropFailure[];
}> {
  const dbs = await dropDatabases(servers, created.databases, forget, notify, recheck);
  const released = await releaseAdopted(servers, created.adopted, created.roles, forget);
  const keptDatabases = released.done.map((r) => ({
    server: r.server,
    name: r.name,
    reason: `it existed (empty) before the split${r.roles.length ? `; what ${r.roles.join(', ')} owned in it was dropped` : ''}`,
  }));
  const roles = await dropRoles(servers, created.roles, forget);
  return { databases: dbs.done, roles: roles.done, keptDatabases, problems: [...dbs.failures, ...released.failures, ...roles.failures] };
}
