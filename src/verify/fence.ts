import { FENCE_TRIGGER } from '../steps/fence-source.js';
import { parseKey } from '../catalog/model.js';
import { qname } from '../pg/quote.js';
import { copiedTables, stepsOf } from './plan-tables.js';
import { errorText, unverifiedBy, mapLimit, type Check, type VerifyContext } from './check.js';

/** What a write to a fenced table must fail with: read_only_sql_transaction. */
export const FENCE_SQLSTATE = '25006';

/** The service that moved each table: among the services holding it, the one that does not list it as a copy. */
function ownerOf(ctx: VerifyContext): Map<string, string> {
  const owner = new Map<string, string>();
  for (const c of copiedTables(ctx.plan)) {
    const copiedHere = ctx.plan.services.find((s) => s.name === c.service)?.copies.some((x) => x.name === c.table) ?? false;
    if (!copiedHere || !owner.has(c.table)) owner.set(c.table, c.service);
  }
  return owner;
}

/**
 * Each moved table of the source carries the enabled fence trigger, and a write to it
 * (a zero-row DELETE in a READ WRITE transaction that is rolled back: a statement
 * trigger fires even for no rows) fails with SQLSTATE 25006. Copied tables are not fenced.
 */
export async function fenceChecks(ctx: VerifyContext): Promise<Check[]> {
  const serviceOf = ownerOf(ctx);
  const tables = [...new Set(stepsOf(ctx.plan, 'fence_source').flatMap((s) => s.tables))];
  const pool = ctx.pools.pool('source');
  return mapLimit(tables, ctx.jobs, async (table): Promise<Check> => {
    const service = serviceOf.get(table);
    const base = { kind: 'fence' as const, ...(service ? { service } : {}), table };
    const t = qname(parseKey(table));
    try {
      const r = await pool.query<{ enabled: string }>(
        `SELECT tgenabled::text AS enabled FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname = $2`,
        [t, FENCE_TRIGGER],
      );
      const enabled = r.rows[0]?.enabled ?? null;
      if (enabled === null) {
        return { ...base, ok: false, source: null, detail: `the fence trigger ${FENCE_TRIGGER} is missing: writes to ${table} in the source would be lost; rerun \`apply\` (its fence_source step recreates it)` };
      }
      if (enabled !== 'A' && enabled !== 'O') {
        return { ...base, ok: false, source: enabled, detail: `the fence trigger ${FENCE_TRIGGER} is disabled (tgenabled ${enabled}): ALTER TABLE ${t} ENABLE ALWAYS TRIGGER "${FENCE_TRIGGER}"` };
      }
      const client = await pool.connect();
      let code: string | undefined;
      let message = '';
      let lost: { unverified?: true } = {};
      try {
        await client.query('BEGIN READ WRITE');
        await client.query(`SET LOCAL lock_timeout = '10s'`);
        await client.query(`DELETE FROM ${t} WHERE false`);
      } catch (err) {
        code = (err as { code?: string }).code;
        message = errorText(err);
        lost = unverifiedBy(err);
      } finally {
        await client.query('ROLLBACK').catch(() => undefined);
        // A client whose connection broke is not given back to the pool.
        client.release(lost.unverified);
      }
      if (lost.unverified) return { ...base, ok: false, source: enabled, detail: `cannot check the fence: the write test lost its connection: ${message}`, unverified: true };
      if (code === FENCE_SQLSTATE) return { ...base, ok: true, source: enabled, detail: `fenced: a write fails with ${FENCE_SQLSTATE}` };
      return {
        ...base,
        ok: false,
        source: enabled,
        detail: code === undefined
          ? `a write to ${table} in the source succeeded although the fence trigger is enabled`
          : `a write to ${table} failed, but not with the fence's ${FENCE_SQLSTATE}: ${message}`,
      };
    } catch (err) {
      return { ...base, ok: false, detail: `cannot check the fence: ${errorText(err)}`, ...unverifiedBy(err) };
    }
  });
}
