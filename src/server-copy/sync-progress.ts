import type { PgClient } from '../steps/handler.js';

/** One table of a subscription: its state in pg_subscription_rel and the rows its target holds or is copying. */
export interface TableSync {
  /** `schema.name`. */
  table: string;
  /** i init, d copying, f copied (14+), s synchronised, r ready. */
  state: string;
  /** Rows copied so far: the running COPY's count (14+: pg_stat_progress_copy), else the table's inserted rows. */
  rows: number;
}

/** Every table of the subscription in the database `client` is connected to. */
export async function tableSyncs(client: PgClient, subscription: string): Promise<TableSync[]> {
  const v = await client.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`);
  const progress = (v.rows[0]?.v ?? 0) >= 140000;
  const r = await client.query<{ table: string; state: string; rows: string }>(
    `SELECT n.nspname || '.' || c.relname AS table, r.srsubstate::text AS state,
            greatest(coalesce(st.n_tup_ins, 0), ${progress ? '(SELECT coalesce(max(p.tuples_processed), 0) FROM pg_stat_progress_copy p WHERE p.relid = r.srrelid)' : '0'})::text AS rows
       FROM pg_subscription_rel r
       JOIN pg_subscription s ON s.oid = r.srsubid
       JOIN pg_class c ON c.oid = r.srrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_stat_user_tables st ON st.relid = r.srrelid
      WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY 1`,
    [subscription],
  );
  return r.rows.map((x) => ({ table: x.table, state: x.state, rows: Number(x.rows) }));
}
