import { serverOf } from '../conn/connection.js';
import type { Plan } from '../plan/model.js';
import type { Pools } from '../pg/pools.js';

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
