import { qname } from '../pg/quote.js';
import { copiedTables, type CopiedTable } from './plan-tables.js';
import { errorText, unverifiedBy, mapLimit, type Check, type VerifyContext } from './check.js';
import { cutoverCopyCheck } from './cutover-copies.js';

async function count(ctx: VerifyContext, server: string, database: string | undefined, sql: string): Promise<number> {
  const pool = database === undefined ? ctx.pools.pool(server) : ctx.pools.pool(server, database);
  const r = await pool.query<{ n: string }>(sql);
  return Number(r.rows[0]?.n ?? NaN);
}

/** The rowcount check of one table from the two counts. */
export function rowcountCheck(t: CopiedTable, source: number, target: number): Check {
  const base = { kind: 'rowcount' as const, service: t.service, table: t.table };
  if (source === target) return { ...base, ok: true, source, target, detail: `${source} rows on both sides` };
  const diff = target - source;
  return {
    ...base,
    ok: false,
    source,
    target,
    detail: `row counts differ: source ${source}, target ${target} (${Math.abs(diff)} ${diff < 0 ? 'missing in' : 'extra in'} ${t.target.database})`,
  };
}

/** Source vs target `count(*)` of one table, both sides at once. */
export async function countTable(ctx: VerifyContext, t: CopiedTable): Promise<Check> {
  const sql = `SELECT count(*)::text AS n FROM ONLY ${qname(t.source)}`;
  try {
    const [source, target] = await Promise.all([
      count(ctx, 'source', undefined, sql),
      count(ctx, t.target.server, t.target.database, sql),
    ]);
    ctx.progress(`rowcount ${t.table}: ${source} / ${target}`);
    const cut = source !== target ? await cutoverCopyCheck(ctx, t, 'rowcount', { source, target }) : null;
    if (cut && 'pass' in cut) return cut.pass;
    const check = rowcountCheck(t, source, target);
    return cut ? { ...check, detail: `${check.detail}; ${cut.changed}` } : check;
  } catch (err) {
    return { kind: 'rowcount', service: t.service, table: t.table, ok: false, detail: `cannot count rows: ${errorText(err)}`, ...unverifiedBy(err) };
  }
}

/** Source vs target `count(*)` of every copied leaf table, both sides at once. */
export async function rowcountChecks(ctx: VerifyContext): Promise<Check[]> {
  return mapLimit(copiedTables(ctx.plan), ctx.jobs, (t) => countTable(ctx, t));
}
