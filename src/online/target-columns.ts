import type { Pools } from '../pg/pools.js';
import type { Plan } from '../plan/model.js';
import { parseKey } from '../catalog/model.js';
import { qname } from '../pg/quote.js';

/** The columns each of `tables` has in the target database of the service that owns or copies it (absent: not found there). */
export async function targetColumns(pools: Pools, plan: Plan, tables: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const key of tables) {
    const service = plan.services.find((s) => s.tables.some((t) => t.name === key) || s.copies.some((t) => t.name === key));
    if (!service) continue;
    const r = await pools
      .pool(service.server, service.database)
      .query<{ name: string }>(
        `SELECT a.attname AS name FROM pg_attribute a
          WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
        [qname(parseKey(key))],
      )
      .catch(() => ({ rows: [] as Array<{ name: string }> }));
    if (r.rows.length > 0) out.set(key, r.rows.map((x) => x.name));
  }
  return out;
}

/**
 * Which of `partitions` exist in the database named beside each (`database\0schema.name`),
 * and the owner there of each one's parent (a partition made by hand is given it: from
 * PostgreSQL 16 a subscription applies rows as the table's owner).
 */
export async function presentInTargets(
  pools: Pools,
  partitions: ReadonlyArray<{ partition: string; parent: string; database: string; server: string }>,
): Promise<{ present: Set<string>; parentOwner: Map<string, string> }> {
  const present = new Set<string>();
  const parentOwner = new Map<string, string>();
  for (const p of partitions) {
    const r = await pools
      .pool(p.server, p.database)
      .query<{ ok: boolean; owner: string | null }>(
        `SELECT to_regclass($1) IS NOT NULL AS ok, (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass($2)) AS owner`,
        [qname(parseKey(p.partition)), qname(parseKey(p.parent))],
      )
      .catch(() => ({ rows: [] as Array<{ ok: boolean; owner: string | null }> }));
    if (r.rows[0]?.ok) present.add(`${p.database}\0${p.partition}`);
    if (r.rows[0]?.owner) parentOwner.set(`${p.database}\0${p.parent}`, r.rows[0].owner);
  }
  return { present, parentOwner };
}
