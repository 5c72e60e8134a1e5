import type { DenormalizeFill } from '../plan/model.js';
import { parseKey } from '../catalog/model.js';
import { ident, literal, qname } from '../pg/quote.js';
import { scalarLookup, type Lookup } from '../steps/denormalize-lookup.js';
import { FILLING_SETTING, TRACK_SCHEMA } from './denormalize-tracking.js';

/** The temporary table a fill loads the source's mapping into (dropped at commit). */
const MAP_TABLE = 'cps_fill_map';

/**
 * The statements of one denormalized-column fill. The mapping (referenced key →
 * value) is read from the fenced source and loaded into a temporary table shaped like
 * the target's own columns and indexed on the key; then one UPDATE sets every row
 * whose value differs from what the same correlated lookup as the offline copy's
 * (denormalize-lookup.ts) finds in the mapping, NULL when nothing matches: the result
 * equals the offline copy's, at an index probe per row whatever the share of NULL or
 * repeated keys. Runs with session_replication_role = replica, so the target's
 * triggers (updated_at...) do not fire, as they do not during a copy.
 */
export interface FillSql {
  /** On the target, in one transaction, before the COPY. */
  before: string[];
  /** On the source. */
  copyOut: string;
  /** On the target. */
  copyIn: string;
  /** On the target, after the COPY, in the same transaction. */
  after: string[];
}

export function fillSql(f: DenormalizeFill): FillSql {
  const t = qname(parseKey(f.table));
  const col = ident(f.column);
  const locals = f.on.map((o) => ident(o.local));
  const from = { ...parseKey(f.fromTable), partitioned: f.fromPartitioned === true };
  // The source's rows, as the mapping holds them: the key under the target's column names, the value under the new column's.
  const lookup: Lookup = {
    table: { schema: 'pg_temp', name: MAP_TABLE },
    partitioned: false,
    alias: 'm',
    on: f.on.map((o) => ({ local: o.local, remote: o.local })),
    columns: [f.column],
  };
  const value = scalarLookup('t', lookup);
  const read = [...f.on.map((o) => `s.${ident(o.remote)}`), `s.${ident(f.fromColumn)}`].join(', ');
  return {
    before: [
      'SET LOCAL session_replication_role = replica',
      `SET LOCAL ${FILLING_SETTING} = 'on'`,
      `CREATE TEMPORARY TABLE ${ident(MAP_TABLE)} ON COMMIT DROP AS SELECT ${[...locals, col].join(', ')} FROM ${t} WITH NO DATA`,
    ],
    copyOut: `COPY (SELECT ${read} FROM ${from.partitioned ? '' : 'ONLY '}${qname(from)} AS s) TO STDOUT`,
    copyIn: `COPY ${ident(MAP_TABLE)} FROM STDIN`,
    after: [
      `CREATE INDEX ON ${ident(MAP_TABLE)} (${locals.join(', ')})`,
      `ANALYZE ${ident(MAP_TABLE)}`,
      `UPDATE ${t} AS t SET ${col} = ${value} WHERE t.${col} IS DISTINCT FROM ${value}`,
    ],
  };
}

/** How often catch_up polls the slots. */
export const CATCH_UP_POLL_MS = 50;
/** How long catch_up waits for the slots to reach the fence's position before it fails. */
export const CATCH_UP_TIMEOUT_MS = 120_000;

/** What catch_up runs, as the plan shows it. */
export function catchUpSql(slots: string[], fills: DenormalizeFill[]): string[] {
  const sql = [
    '-- on the source, once, after the fence:',
    'SELECT pg_current_wal_insert_lsn()  -- the fence position: every write acknowledged before the fence is below it',
    `-- on the source, every ${CATCH_UP_POLL_MS} ms until every slot has confirmed it (at most ${CATCH_UP_TIMEOUT_MS / 1000} s, or cutover --catch-up-timeout):`,
    `SELECT slot_name, confirmed_flush_lsn >= '<fence position>'::pg_lsn FROM pg_replication_slots WHERE slot_name IN (${slots.map(literal).join(', ')})`,
  ];
  for (const f of fills) {
    const s = fillSql(f);
    sql.push(
      `-- refill the denormalized ${f.table}.${f.column} in ${f.target.database} from ${f.fromTable}.${f.fromColumn}: where cutover tracked it before the fence, ` +
        `only the rows recorded in ${TRACK_SCHEMA} (written since) are updated, with the values the source has for their keys; otherwise every row:`,
      'BEGIN',
      ...s.before,
      `${s.copyIn}  -- fed by the source's: ${s.copyOut}`,
      ...s.after,
      'COMMIT',
    );
  }
  if (fills.length > 0) sql.push(`DROP SCHEMA ${ident(TRACK_SCHEMA)} CASCADE  -- in each database the tracking used (its triggers go with it)`);
  return sql;
}

/** What verify_rowcounts runs at cutover: the fenced source's count is the reference. */
export function liveRowcountsSql(tables: string[]): string[] {
  return tables.map((t) => `SELECT count(*) FROM ONLY ${qname(parseKey(t))}  -- on the target and on the fenced source: equal`);
}
