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
