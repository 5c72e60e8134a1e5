import { afterAll, describe, expect, it } from 'vitest';
import { createDatabase, query, servers, uniquePrefix, withDatabase } from '../harness/servers.js';
import type { Plan } from '../../src/plan/model.js';
import { Pools } from '../../src/pg/pools.js';
import { probeWrite } from '../../src/online/write-probe.js';

/**
 * The write probe of repoint_config: an INSERT of no rows into one of the service's
 * tables, as its role, rolled back. It succeeds where the role may write, leaves
 * nothing, and reports (without waiting) where the database refuses writes.
 */

const cleanup: string[] = [];
afterAll(async () => {
  for (const sql of cleanup.reverse()) await query(servers().main, sql).catch(() => undefined);
});

describe('write probe', () => {
  it('proves the role can write, leaves no trace, and reports a read-only database or a role without privilege', async () => {
    const prefix = uniquePrefix();
    const db = `${prefix}probe`;
    const role = `${prefix}svc`;
    const url = await createDatabase(servers().main, db);
    cleanup.push(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`, `DROP ROLE IF EXISTS "${role}"`);
    await query(servers().main, `CREATE ROLE "${role}" NOLOGIN`);
    await query(url, `CREATE TABLE public.items (id bigserial PRIMARY KEY, name text NOT NULL, total int GENERATED ALWAYS AS (length(name)) STORED, made timestamptz DEFAULT now())`);
    await query(url, `ALTER TABLE public.items OWNER TO "${role}"`);
    await query(url, `INSERT INTO public.items (name) VALUES ('a')`);
    const target = { service: 'svc', server: 'source', database: db };
    const plan = { services: [{ name: 'svc', database: db, server: 'source', role, tables: [{ name: 'public.items', rowsEstimate: 1, bytes: 0 }] }] } as unknown as Plan;
    const pools = new Pools({ source: withDatabase(servers().main, 'postgres') }, 2);
    try {
      const ok = await probeWrite(pools, plan, target, 'svc');
      expect(ok.error).toBeNull();
      expect(ok.acceptedAt).not.toBeNull();
      expect(ok).toMatchObject({ table: 'public.items', role });
      // Nothing left: no row, no sequence value taken.
      expect(await query(url, `SELECT count(*)::int AS n, (SELECT last_value::int FROM items_id_seq) AS seq FROM items`)).toEqual([{ n: 1, seq: 1 }]);

      await query(url, `REVOKE INSERT ON public.items FROM "${role}"`);
      const refused = await probeWrite(pools, plan, target, 'svc');
      expect(refused.acceptedAt).toBeNull();
      expect(refused.error).toMatch(/permission denied/);
      await query(url, `GRANT INSERT ON public.items TO "${role}"`);

      await query(servers().main, `ALTER DATABASE "${db}" SET default_transaction_read_only = on`);
      const readOnly = await probeWrite(pools, plan, target, 'svc');
      expect(readOnly.acceptedAt).toBeNull();
      expect(readOnly.error).toMatch(/read-only transaction/);
    } finally {
      await pools.end();
    }
  });
});
