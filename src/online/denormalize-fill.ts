import { pipeline } from 'node:stream/promises';
import copyStreams from 'pg-copy-streams';
import type pg from 'pg';
import { parseKey } from '../catalog/model.js';
import type { DenormalizeFill } from '../plan/model.js';
import type { Pools } from '../pg/pools.js';
import { ident, qname } from '../pg/quote.js';
import { scalarLookup, type Lookup } from '../steps/denormalize-lookup.js';
import { fillSql } from './cutover-sql.js';
import { primaryKeyOf, trackTables, type TrackedFill } from './denormalize-tracking.js';
import { withClient } from './pooled.js';
import { PINNED_SETTINGS } from '../verify/checksum-sql.js';

async function inTransaction<T>(c: pg.ClientBase, work: () => Promise<T>): Promise<T> {
  await c.query('BEGIN');
  try {
    const out = await work();
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Fills one denormalized column for every row from the source; returns the rows changed. */
export async function fullFill(pools: Pools, f: DenormalizeFill): Promise<number> {
  const sql = fillSql(f);
  const src = await pools.client('source');
  let dst: pg.Client | undefined;
  try {
    dst = await pools.client(f.target.server, f.target.database);
    const d = dst;
    return await inTransaction(d, async () => {
      for (const s of sql.before) await d.query(s);
      // Text COPY: both ends under the same text settings (dates, intervals, floats, money), whatever each server's defaults.
      await d.query(PINNED_SETTINGS.join('; '));
      await inTransaction(src, async () => {
        await src.query(PINNED_SETTINGS.join('; '));
        await pipeline(src.query(copyStreams.to(sql.copyOut)), d.query(copyStreams.from(sql.copyIn)));
      });
      let changed = 0;
      for (const s of sql.after) changed += (await d.query(s)).rowCount ?? 0;
      return changed;
    });
  } finally {
    await dst?.end().catch(() => undefined);
    await src.end().catch(() => undefined);
  }
}

/** The SQL types of `columns` of `table` in the database `c` is connected to, by column name. */
async function typesOf(c: pg.ClientBase, table: string, columns: readonly string[]): Promise<Map<string, string>> {
  const r = await c.query<{ name: string; type: string }>(
    `SELECT attname::text AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
      WHERE attrelid = to_regclass($1) AND attname = ANY ($2::text[]) AND attnum > 0 AND NOT attisdropped`,
    [qname(parseKey(table)), columns],
  );
  const out = new Map(r.rows.map((x) => [x.name, x.type]));
  for (const col of columns) if (!out.has(col)) throw new Error(`column ${col} of ${table} is missing`);
  return out;
}

/** `json_to_recordset($n) AS alias(col type, ...)`, typed like `table`'s columns. */
function recordset(param: number, alias: string, columns: readonly string[], types: Map<string, string>): string {
  return `json_to_recordset($${param}::json) AS ${ident(alias)}(${columns.map((c) => `${ident(c)} ${types.get(c)!}`).join(', ')})`;
}

/**
 * After the fence: updates only the rows of a tracked fill written since its tracking
 * began (their primary keys, recorded by the trigger on its table) and those that
 * reference a key of the source table that changed since (recorded where that table
 * is replicated), with the values of the fenced source, in one transaction. Returns the
 * rows updated: they are the rows written since, not the table.
 */
export async function refill(pools: Pools, t: TrackedFill): Promise<number> {
  const f = t.fill;
  const tables = trackTables(t.tag);
  const local = f.on.map((o) => o.local);
  const remote = f.on.map((o) => o.remote);
  const table = qname(parseKey(f.table));
  return withClient(pools, f.target.server, f.target.database, async (dst) => {
    // The keys of the source table that changed, under the local columns' names.
    const r = await pools
      .pool(t.from.server, t.from.database)
      .query<{ keys: unknown[] | null }>(
        `SELECT json_agg(k) AS keys FROM (SELECT DISTINCT ${f.on.map((o) => `${ident(o.remote)} AS ${ident(o.local)}`).join(', ')} FROM ${tables.keys}) AS k`,
      );
    const changedKeys = r.rows[0]?.keys ?? [];
    const pk = await primaryKeyOf(dst, f.table);
    const localTypes = await typesOf(dst, f.table, [...local, f.column]);
    return await inTransaction(dst, async () => {
      await dst.query('SET LOCAL session_replication_role = replica');
      await dst.query(`SET LOCAL cloudphone_split.filling = 'on'`);
      const pkList = pk.map(ident).join(', ');
      const onPk = pk.map((c) => `t.${ident(c)} = r.${ident(c)}`).join(' AND ');
      const onLocal = local.map((c) => `t.${ident(c)} = k.${ident(c)}`).join(' AND ');
      // The rows to refill: written since (by primary key), or pointing to a changed key.
      await dst.query(`CREATE TEMPORARY TABLE cps_fill_rows ON COMMIT DROP AS SELECT ${pkList} FROM ONLY ${table} WITH NO DATA`);
      await dst.query(
        `INSERT INTO cps_fill_rows
           SELECT DISTINCT ${pkList} FROM (
             SELECT ${pkList} FROM ${tables.rows}
             UNION ALL
             SELECT ${pk.map((c) => `t.${ident(c)}`).join(', ')} FROM ONLY ${table} AS t JOIN ${recordset(1, 'k', local, localTypes)} ON ${onLocal}
           ) AS x`,
        [JSON.stringify(changedKeys)],
      );
      await dst.query(`CREATE INDEX ON cps_fill_rows (${pkList})`);
      await dst.query(`ANALYZE cps_fill_rows`);
      // Their keys, under the source table's names, and the values the fenced source has for them.
      const wanted = await dst.query<{ keys: unknown[] | null }>(
        `SELECT json_agg(k) AS keys FROM (SELECT DISTINCT ${f.on.map((o) => `t.${ident(o.local)} AS ${ident(o.remote)}`).join(', ')}
           FROM ONLY ${table} AS t JOIN cps_fill_rows AS r ON ${onPk}
          WHERE ${local.map((c) => `t.${ident(c)} IS NOT NULL`).join(' AND ')}) AS k`,
      );
      const values = await withClient(pools, 'source', '', async (src) => {
        const fromTypes = await typesOf(src, f.fromTable, remote);
        const from = `${f.fromPartitioned ? '' : 'ONLY '}${qname(parseKey(f.fromTable))}`;
        const r = await src.query<{ v: unknown[] | null }>(
          `SELECT json_agg(v) AS v FROM (SELECT ${f.on.map((o) => `s.${ident(o.remote)} AS ${ident(o.local)}`).join(', ')}, s.${ident(f.fromColumn)} AS ${ident(f.column)}
             FROM ${from} AS s JOIN ${recordset(1, 'k', remote, fromTypes)} ON ${remote.map((c) => `s.${ident(c)} = k.${ident(c)}`).join(' AND ')}) AS v`,
          [JSON.stringify(wanted.rows[0]?.keys ?? [])],
        );
        return r.rows[0]?.v ?? [];
      });
      await dst.query(`CREATE TEMPORARY TABLE cps_fill_map ON COMMIT DROP AS SELECT ${[...local, f.column].map(ident).join(', ')} FROM ONLY ${table} WITH NO DATA`);
      await dst.query(
        `INSERT INTO cps_fill_map SELECT * FROM ${recordset(1, 'm', [...local, f.column], localTypes)}`,
        [JSON.stringify(values)],
      );
      await dst.query(`CREATE INDEX ON cps_fill_map (${local.map(ident).join(', ')})`);
      await dst.query(`ANALYZE cps_fill_map`);
      const lookup: Lookup = { table: { schema: 'pg_temp', name: 'cps_fill_map' }, partitioned: false, alias: 'm', on: f.on.map((o) => ({ local: o.local, remote: o.local })), columns: [f.column] };
      const updated = await dst.query(`UPDATE ONLY ${table} AS t SET ${ident(f.column)} = ${scalarLookup('t', lookup)} FROM cps_fill_rows AS r WHERE ${onPk}`);
      return updated.rowCount ?? 0;
    });
  });
}
