import { sql } from './bench-clusters.js';

/**
 * Where one table's time went in an apply, from the journal (milliseconds).
 * `copy`: its copy steps' window (first start to last end); within it `read` is
 * the time the relay waited on the source (reading, lookups), `write` the time
 * it waited on the target (its socket full, the end of the COPY and the commit;
 * a moment both were waited on is the target's, so the two never overlap);
 * the rest of `copy` is the relay's own work with both sides busy. `index`: its
 * index steps' window (keys, indexes, triggers, VACUUM (ANALYZE)). `wait`: from
 * the end of its copy to the start of its index builds (no job free). `start`:
 * when its copy started, from the start of the run.
 */
export interface TablePhases {
  table: string;
  /** How many tables this line stands for (1, or the small tables summed). */
  tables: number;
  rows: number;
  bytes: number;
  start: number;
  copy: number;
  read: number;
  write: number;
  index: number;
  wait: number;
}

interface Row {
  table: string;
  rows: string;
  bytes: string;
  start_ms: string;
  copy_ms: string;
  read_ms: string;
  write_ms: string;
  index_ms: string;
  wait_ms: string;
}

const MS = (e: string) => `coalesce(extract(epoch FROM ${e}) * 1000, 0)`;

/** One row per copied table of the latest run of split `split`, largest table first. */
export function tablePhasesSql(split: string): { text: string; params: unknown[] } {
  return {
    params: [split],
    text: `
WITH run AS (SELECT id, started_at FROM cloudphone_split.runs WHERE split = $1 ORDER BY id DESC LIMIT 1),
steps AS (SELECT s.* FROM cloudphone_split.steps s JOIN run ON s.run_id = run.id WHERE s.finished_at IS NOT NULL AND s."table" IS NOT NULL),
copies AS (
  SELECT "table", sum(rows) AS rows, sum(bytes) AS bytes, min(started_at) AS started, max(finished_at) AS finished,
         sum(coalesce((detail->'timing'->>'sourceWaitMs')::numeric, 0)) AS read_ms,
         sum(coalesce((detail->'timing'->>'targetWaitMs')::numeric, 0) + coalesce((detail->'timing'->>'commitMs')::numeric, 0)) AS write_ms
    FROM steps WHERE kind = 'copy_data' GROUP BY 1),
indexes AS (SELECT "table", min(started_at) AS started, max(finished_at) AS finished FROM steps WHERE kind = 'create_indexes' GROUP BY 1)
SELECT c."table" AS table, coalesce(c.rows, 0)::text AS rows, coalesce(c.bytes, 0)::text AS bytes,
       ${MS('c.started - (SELECT started_at FROM run)')}::text AS start_ms,
       ${MS('c.finished - c.started')}::text AS copy_ms,
       c.read_ms::text AS read_ms, c.write_ms::text AS write_ms,
       ${MS('i.finished - i.started')}::text AS index_ms,
       greatest(${MS('i.started - c.finished')}, 0)::text AS wait_ms
  FROM copies c LEFT JOIN indexes i USING ("table")
 ORDER BY coalesce(c.bytes, 0) DESC, c.finished - c.started DESC, c."table"`,
  };
}

/**
 * The phases of every copied table; tables beyond the `keep` largest (small tables copied
 * in one batch each show the whole batch's window, so the longest copies would be batch
 * members) are summed into one line (`start`: the earliest of them).
 */
export async function tablePhases(controlUrl: string, split: string, keep = 6): Promise<TablePhases[]> {
  const q = tablePhasesSql(split);
  const rows = await sql<Row>(controlUrl, q.text, q.params);
  const all: TablePhases[] = rows.map((r) => ({
    table: r.table,
    tables: 1,
    rows: Number(r.rows),
    bytes: Number(r.bytes),
    start: Number(r.start_ms),
    copy: Number(r.copy_ms),
    read: Math.min(Number(r.read_ms), Number(r.copy_ms)),
    write: Math.min(Number(r.write_ms), Number(r.copy_ms)),
    index: Number(r.index_ms),
    wait: Number(r.wait_ms),
  }));
  const head = all.slice(0, keep);
  const rest = all.slice(keep);
  if (rest.length === 0) return head;
  const sum = (f: (t: TablePhases) => number) => rest.reduce((a, t) => a + f(t), 0);
  head.push({
    table: `${rest.length} other tables (summed)`,
    tables: rest.length,
    rows: sum((t) => t.rows),
    bytes: sum((t) => t.bytes),
    start: Math.min(...rest.map((t) => t.start)),
    copy: sum((t) => t.copy),
    read: sum((t) => t.read),
    write: sum((t) => t.write),
    index: sum((t) => t.index),
    wait: sum((t) => t.wait),
  });
  return head;
}
