import { FENCE_ROWS_TRIGGER, FENCE_TRIGGER, fenceRowsTriggerSql, fenceTriggerSql } from '../steps/fence-source.js';
import { parseKey } from '../catalog/model.js';
import { ident, qname } from '../pg/quote.js';
import { copiedTables, stepsOf } from './plan-tables.js';
import { errorText, unverifiedBy, mapLimit, type Check, type VerifyContext } from './check.js';
import { isConnectionLoss } from '../pg/connection-loss.js';

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
 * A partition tree's root fenced with the row fence (plans made since it exists) carries it
 * enabled too, and every partition carries either fence (the row fence's clone, on one made since).
 */
export async function fenceChecks(ctx: VerifyContext): Promise<Check[]> {
  const serviceOf = ownerOf(ctx);
  const fenceSteps = stepsOf(ctx.plan, 'fence_source');
  const tables = [...new Set(fenceSteps.flatMap((s) => s.tables))];
  /** The roots the plan's fence gave the row fence. */
  const rowFenced = new Set(tables.filter((t) => fenceSteps.some((s) => s.sql.includes(`DROP TRIGGER IF EXISTS ${ident(FENCE_ROWS_TRIGGER)} ON ${qname(parseKey(t))}`))));
  /** Each fenced table's new database and split, as its fence names them. */
  const fenceFor = new Map<string, { database: string; split: string }>();
  for (const s of ctx.plan.services) for (const t of s.tables) fenceFor.set(t.name, { database: s.database, split: ctx.plan.name });
  // Partitions: the database their copy went to.
  for (const c of stepsOf(ctx.plan, 'copy_data')) if (c.table && !fenceFor.has(c.table)) fenceFor.set(c.table, { database: c.target.database, split: ctx.plan.name });
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
        const fence = fenceFor.get(table);
        return {
          ...base,
          ok: false,
          source: null,
          detail: `the fence trigger ${FENCE_TRIGGER} is missing: writes to ${table} in the source would be lost` +
            (fence ? ` (${fenceTriggerSql(fence.split, table, fence.database).join('; ')})` : ''),
        };
      }
      if (enabled !== 'A' && enabled !== 'O') {
        return { ...base, ok: false, source: enabled, detail: `the fence trigger ${FENCE_TRIGGER} is disabled (tgenabled ${enabled}): ALTER TABLE ${t} ENABLE ALWAYS TRIGGER "${FENCE_TRIGGER}"` };
      }
      if (rowFenced.has(table)) {
        const rows = await pool.query<{ enabled: string }>(`SELECT tgenabled::text AS enabled FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname = $2`, [t, FENCE_ROWS_TRIGGER]);
        const rowsEnabled = rows.rows[0]?.enabled ?? null;
        if (rowsEnabled !== 'A' && rowsEnabled !== 'O') {
          const fence = fenceFor.get(table);
          return {
            ...base,
            ok: false,
            source: enabled,
            detail: rowsEnabled === null
              ? `the row fence ${FENCE_ROWS_TRIGGER} is missing: writes straight into a partition of ${table} created later would reach the source` +
                (fence ? ` (${fenceRowsTriggerSql(fence.split, table, fence.database).join('; ')})` : '')
              : `the row fence ${FENCE_ROWS_TRIGGER} is disabled (tgenabled ${rowsEnabled}): ALTER TABLE ${t} ENABLE ALWAYS TRIGGER "${FENCE_ROWS_TRIGGER}"`,
          };
        }
      }
      // A partition created or attached after a fence without row fence has no fence of its own (a statement
      // trigger is not cloned to new partitions): a write straight into one goes through.
      const bare = await pool.query<{ partition: string }>(
        `SELECT n.nspname || '.' || c.relname AS partition
           FROM pg_partition_tree($1::regclass) p JOIN pg_class c ON c.oid = p.relid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE p.relid <> $1::regclass AND NOT EXISTS (
            SELECT 1 FROM pg_trigger g WHERE g.tgrelid = p.relid AND g.tgname IN ($2, $3) AND g.tgenabled IN ('A', 'O'))
          ORDER BY 1`,
        [t, FENCE_TRIGGER, FENCE_ROWS_TRIGGER],
      );
      if (bare.rows.length > 0) {
        const names = bare.rows.map((r) => r.partition);
        const fence = fenceFor.get(table);
        return {
          ...base,
          ok: false,
          source: enabled,
          detail: `${names.length === 1 ? 'partition' : 'partitions'} ${names.join(', ')} of ${table} ${names.length === 1 ? 'was' : 'were'} created or attached after the fence and ${names.length === 1 ? 'is' : 'are'} not fenced: ` +
            `writes straight into ${names.length === 1 ? 'it' : 'them'} reach the source, not ${fence?.database ?? 'the new database'}; move any rows ${names.length === 1 ? 'it holds' : 'they hold'} there, then fence ${names.length === 1 ? 'it' : 'them'}` +
            (fence ? ` (${names.flatMap((n) => fenceTriggerSql(fence.split, n, fence.database)).join('; ')})` : ''),
        };
      }
      const client = await pool.connect();
      let code: string | undefined;
      let message = '';
      let lost: { unverified?: true } = {};
      try {
        await client.query('BEGIN READ WRITE');
        await client.query(`SET LOCAL lock_timeout = '10s'`);
        // A write as any session makes it: the tool's sessions turn row-level security off, which fails a table with policies before its fence could.
        await client.query('SET LOCAL row_security = on');
        await client.query(await probeWrite(client, t));
      } catch (err) {
        code = (err as { code?: string }).code;
        message = errorText(err);
        lost = isConnectionLoss(err) ? { unverified: true } : {};
      } finally {
        await client.query('ROLLBACK').catch(() => undefined);
        // A client whose connection broke is not given back to the pool.
        client.release(lost.unverified);
      }
      if (lost.unverified) return { ...base, ok: false, source: enabled, detail: `cannot check the fence: the write test lost its connection: ${message}`, unverified: true };
      if (code === FENCE_SQLSTATE) return { ...base, ok: true, source: enabled, detail: `fenced: a write fails with ${FENCE_SQLSTATE}` };
      if (code === '42501') {
        // Refused before the fence could be: the role's privileges, not the fence, are what this write met.
        return { ...base, ok: false, source: enabled, unverified: true, detail: `cannot check the fence: the role verify runs as may not write to ${table} (${message}); run verify as the table's owner or a superuser` };
      }
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

/**
 * The write that tests a fence: a zero-row DELETE, or a zero-row INSERT of the columns an
 * INSERT may name when a DELETE would fail before the fence could (a DO INSTEAD rule
 * rewrites it, or the table has no replica identity and a publication publishes its
 * deletes), then a zero-row UPDATE.
 */
async function probeWrite(client: { query: (sql: string, values?: unknown[]) => Promise<{ rows: Array<Record<string, unknown>> }> }, table: string): Promise<string> {
  const r = await client.query(
    `SELECT (SELECT array_agg(ev_type::text) FROM pg_rewrite WHERE ev_class = c.oid AND is_instead AND ev_enabled <> 'D') AS events,
            (c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))) AS no_identity,
            (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
              WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped AND attgenerated = '' AND attidentity <> 'a') AS cols
       FROM pg_class c WHERE c.oid = $1::regclass`,
    [table],
  );
  const row = r.rows[0] ?? {};
  const rewritten = new Set((row.events as string[] | null) ?? []);
  const cols = (row.cols as string | null) ?? '';
  // pg_rewrite.ev_type: 2 UPDATE, 3 INSERT, 4 DELETE.
  if (!rewritten.has('4') && row.no_identity !== true) return `DELETE FROM ${table} WHERE false`;
  if (!rewritten.has('3')) return cols === '' ? `INSERT INTO ${table} SELECT FROM ${table} WHERE false` : `INSERT INTO ${table} (${cols}) SELECT ${cols} FROM ${table} WHERE false`;
  if (!rewritten.has('2') && cols !== '' && row.no_identity !== true) return `UPDATE ${table} SET ${cols.split(', ')[0]} = ${cols.split(', ')[0]} WHERE false`;
  return `DELETE FROM ${table} WHERE false`;
}
