import type { CopiedTable } from './plan-tables.js';
import { boundRowHashExpr, checksumSql, type HashMode } from './checksum-sql.js';
import type { TypeHashes } from './column-hash.js';
import { openPinned, type PinnedSide } from './sides.js';
import type { VerifyContext } from './check.js';

/** Tables of at most this many bytes (plan time) are checksummed together, one query per side. */
export const SMALL_TABLE_BYTES = 4 * 2 ** 20;
/** At most this many tables in one batch. */
export const BATCH_TABLES = 50;

/** What the checksums of a table read on one side. */
export interface SideSum {
  rows: number;
  sum: string | undefined;
}

/**
 * The checksum work: tables of known small size grouped by target database (in batches
 * of BATCH_TABLES, each read with one query per side), the others one by one; largest
 * first, so the long scans start at once and the batches fill the other jobs.
 */
export function checksumWork(tables: readonly CopiedTable[]): Array<{ batch: CopiedTable[] } | { table: CopiedTable }> {
  const single: CopiedTable[] = [];
  const groups = new Map<string, CopiedTable[]>();
  for (const t of tables) {
    if (t.bytes === undefined || t.bytes > SMALL_TABLE_BYTES) {
      single.push(t);
      continue;
    }
    const key = `${t.target.server}\u0000${t.target.database}`;
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  single.sort((a, b) => (b.bytes ?? Infinity) - (a.bytes ?? Infinity));
  const batches: CopiedTable[][] = [];
  for (const group of groups.values()) {
    for (let i = 0; i < group.length; i += BATCH_TABLES) batches.push(group.slice(i, i + BATCH_TABLES));
  }
  // A batch of one table is a table.
  return [
    ...single.map((table) => ({ table })),
    ...batches.map((b) => (b.length === 1 ? { table: b[0]! } : { batch: b })),
  ];
}

/** One query reading the count and checksum of every table of a batch: `i` is the table's place in it. */
export function batchSql(parts: ReadonlyArray<{ table: CopiedTable; rowHash: string }>): string {
  return parts.map((p, i) => `SELECT ${i} AS i, q.n, q.h FROM (${checksumSql(p.table.source, p.rowHash)}) AS q`).join('\nUNION ALL\n');
}

/**
 * The counts and checksums of a batch of small tables of one target database, both
 * sides at once, each side in one pinned transaction and one query. Throws when a side
 * cannot run it (a table missing, a type that will not hash): the caller then compares
 * the tables one by one, so each failure is reported against its own table.
 */
export async function batchSums(
  ctx: VerifyContext,
  batch: readonly CopiedTable[],
  types: TypeHashes,
  mode: HashMode,
): Promise<Array<{ source: SideSum; target: SideSum }>> {
  const first = batch[0]!;
  const columns =
    mode === 'record'
      ? await types.columnsOf(batch.map((t) => ({ table: t.source, names: t.columns })))
      : batch.map((t) => t.columns.map((name) => ({ name, text: true })));
  const sql = batchSql(batch.map((table, i) => ({ table, rowHash: boundRowHashExpr(columns[i]!, mode) })));
  const sides: PinnedSide[] = [];
  try {
    const opened = await Promise.allSettled([openPinned(ctx.pools.pool('source')), openPinned(ctx.pools.pool(first.target.server, first.target.database))]);
    for (const o of opened) if (o.status === 'fulfilled') sides.push(o.value);
    for (const o of opened) if (o.status === 'rejected') throw o.reason;
    const [s, d] = sides as [PinnedSide, PinnedSide];
    const [src, dst] = await Promise.all([s.query<{ i: number; n: string; h: string }>(sql), d.query<{ i: number; n: string; h: string }>(sql)]);
    const at = (rows: Array<{ i: number; n: string; h: string }>, i: number): SideSum => {
      const r = rows.find((x) => Number(x.i) === i);
      return { rows: Number(r?.n), sum: r?.h };
    };
    return batch.map((_, i) => ({ source: at(src, i), target: at(dst, i) }));
  } finally {
    await Promise.all(sides.map((x) => x.close()));
  }
}
