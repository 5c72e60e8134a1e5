import { serverOf } from '../conn/connection.js';
import type { Plan } from '../plan/model.js';
import { Pools } from '../pg/pools.js';
import { PlanBlockedError } from '../errors.js';

/** What a server has room for now: `max_connections` less the superusers' reserve and the sessions already there. */
export interface ServerRoom {
  server: string;
  free: number;
  /** Databases the cutover pools connections on there (the source's, the targets'). */
  databases: number;
}

/** Connections a cutover of `jobs` may hold on a server where it pools on `databases` databases: a pool per database, and a dedicated session per running step, the fence and the snapshot. */
export function connectionsNeeded(jobs: number, databases: number): number {
  return databases * (jobs * 2 + 2) + jobs + 2;
}

/** The most jobs whose connections fit every server's room (0 when not even one does). */
export function jobsThatFit(rooms: readonly ServerRoom[], wanted: number): number {
  let jobs = wanted;
  while (jobs > 0 && rooms.some((r) => connectionsNeeded(jobs, r.databases) > r.free)) jobs--;
  return jobs;
}

/**
 * Each physical server of a cutover (manifest names on one host:port count once), with
 * the databases it pools on there and its room now. Inside the window the steps open a
 * pool per database beside their own sessions, on servers whose services keep their
 * connections: five service databases on a server with `max_connections = 100` ran out
 * there ("sorry, too many clients already") with the source fenced.
 */
export async function serverRooms(plan: Plan, pools: Pools): Promise<ServerRoom[]> {
  const uses = new Map<string, { name: string; databases: number }>();
  const add = (name: string) => {
    const key = serverOf(pools.serverUrl(name));
    const u = uses.get(key) ?? { name, databases: 0 };
    u.databases += 1;
    uses.set(key, u);
  };
  add('source');
  for (const s of plan.services) add(s.server);
  const rooms: ServerRoom[] = [];
  for (const [server, use] of uses) {
    const client = await pools.client(use.name);
    try {
      const r = await client.query<{ max: string; reserved: string; used: string }>(
        `SELECT current_setting('max_connections') AS max, current_setting('superuser_reserved_connections') AS reserved,
                (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::text AS used`,
      );
      const row = r.rows[0]!;
      rooms.push({ server, databases: use.databases, free: Number(row.max) - Number(row.reserved) - Number(row.used) });
    } finally {
      await client.end();
    }
  }
  return rooms;
}

/**
 * The jobs whose connections fit every server's room now, at most `wanted`; fewer are
 * said through `warn`. Before the fence, no room even for one job refuses (nothing
 * changed); after it (a rerun), the cutover goes on with one.
 */
export async function fittingJobs(plan: Plan, servers: Record<string, string>, wanted: number, beforeFence: boolean, warn: (message: string) => void): Promise<number> {
  const probe = new Pools(servers, 1);
  let rooms: ServerRoom[];
  try {
    rooms = await serverRooms(plan, probe);
  } finally {
    await probe.end();
  }
  const jobs = jobsThatFit(rooms, wanted);
  if (jobs === 0 && beforeFence) {
    const short = rooms.filter((r) => connectionsNeeded(1, r.databases) > r.free);
    throw new PlanBlockedError(
      `not cutting over: ${short.map((r) => `server ${r.server} has ${Math.max(0, r.free)} connections free, and the cutover needs up to ${connectionsNeeded(1, r.databases)} there (a pool for each of its ${r.databases} databases)`).join('; ')}`,
      'nothing was changed; raise max_connections, or lower the services\' pool sizes for the cutover, then run cutover again',
    );
  }
  if (jobs < wanted) warn(`cutover runs ${Math.max(1, jobs)} step${jobs === 1 ? '' : 's'} at a time, not ${wanted}: that is what the servers' free connections allow (${rooms.map((r) => `${r.server}: ${r.free} free`).join(', ')})`);
  return Math.max(1, jobs);
}
