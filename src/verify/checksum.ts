import type pg from 'pg';
import { qname } from '../pg/quote.js';
import { copiedTables, type CopiedTable } from './plan-tables.js';
import { errorText, unverifiedBy, mapLimit, type Check, type VerifyContext } from './check.js';
import { countTable, rowcountCheck } from './rowcount.js';
import { boundRowHashExpr, checksumSql, hashModeFor, rowExpr, type HashColumn, type HashMode } from './checksum-sql.js';
import { TypeHashes } from './column-hash.js';
import { findDifferingRows, type RowKey } from './bisect.js';
import { describeDiffs, MAX_KEYS, primaryKey } from './row-names.js';
import { openPinned, ServerVersions, type PinnedSide } from './sides.js';
import { batchSums, checksumWork, type SideSum } from './checksum-batch.js';
import { compareStep, lookupCopyOf } from './denormalized.js';
import { cutoverCopyCheck } from './cutover-copies.js';

export { describeDiffs, describeKey, MAX_KEYS } from './row-names.js';
export { hashModeFor } from './checksum-sql.js';

const isSideSum = (v: unknown): v is SideSum =>
  typeof v === 'object' && v !== null && typeof (v as SideSum).rows === 'number' && typeof (v as SideSum).sum === 'string';

const hashHow = (mode: HashMode) => (mode === 'record' ? 'hash_record_extended' : 'text hash (versions differ or older than 14)');

function equalCheck(t: CopiedTable, src: SideSum, dst: SideSum, how: string, columns: number): Check {
  return { kind: 'checksum', service: t.service, table: t.table, ok: true, source: src, target: dst, detail: `${src.rows} rows, checksums equal (${how}, ${columns} columns)` };
}

/** The checksum check of a table, and its rows on each side when the scan got that far. */
interface Compared {
  check: Check;
  rows: { source: number; target: number } | null;
  /** The sides differ because the service wrote to a table copied at cutover (cutover-copies.ts): the check passed on the copy. */
  cutover?: boolean;
}

async function compareTable(ctx: VerifyContext, t: CopiedTable, types: TypeHashes, versions: ServerVersions): Promise<Compared> {
  const base = { kind: 'checksum' as const, service: t.service, table: t.table };
  const source = ctx.pools.pool('source');
  const [sv, tv] = await Promise.all([versions.of('source'), versions.of(t.target.server, t.target.database)]);
  const mode = hashModeFor(sv, tv);
  const columns: HashColumn[] = mode === 'record' ? await types.columns(t.source, t.columns) : t.columns.map((name) => ({ name, text: true }));
  const rowHash = boundRowHashExpr(columns, mode);
  const how = hashHow(mode);
  const sides: PinnedSide[] = [];
  try {
    const opened = await Promise.allSettled([openPinned(source), openPinned(ctx.pools.pool(t.target.server, t.target.database))]);
    for (const o of opened) if (o.status === 'fulfilled') sides.push(o.value);
    for (const o of opened) if (o.status === 'rejected') throw o.reason;
    const [s, d] = sides as [PinnedSide, PinnedSide];
    const sql = checksumSql(t.source, rowHash);
    const [[sr], [tr]] = await Promise.all([s.query<{ n: string; h: string }>(sql), d.query<{ n: string; h: string }>(sql)]);
    const src = { rows: Number(sr?.n), sum: sr?.h };
    const dst = { rows: Number(tr?.n), sum: tr?.h };
    ctx.progress(`checksum ${t.table}: ${src.sum === dst.sum && src.rows === dst.rows ? 'equal' : 'differs'}`);
    const rows = { source: src.rows, target: dst.rows };
    if (src.rows === dst.rows && src.sum === dst.sum) return { rows, check: equalCheck(t, src, dst, how, columns.length) };
    const cut = await cutoverCopyCheck(ctx, t, 'checksum', rows, { source: src, target: dst });
    if (cut && 'pass' in cut) return { rows, check: cut.pass, cutover: true };
    const pk = await primaryKey(source, t.source);
    const key: RowKey = pk.length > 0
      ? { kind: 'primary', columns: pk.map((c) => c.name), integer: pk.length === 1 && pk[0]!.integer }
      : { kind: 'row', rowText: `${rowExpr(columns.map((c) => ({ ...c, text: true })), 'text')}::text` };
    const diffs = await findDifferingRows({
      table: t.source,
      rowHash,
      key,
      source: s.query,
      target: d.query,
      rows: Math.max(src.rows, dst.rows),
      limit: MAX_KEYS,
    });
    const where = diffs.length > 0 ? `rows differ at ${describeDiffs(diffs)}` : 'no single differing row was isolated';
    return {
      rows,
      check: {
        ...base,
        ok: false,
        source: src,
        target: dst,
        detail: `checksums differ (${how}; source ${src.rows} rows, target ${dst.rows}): ${where}${cut ? `; ${cut.changed}` : ''}`,
        keys: diffs.map((x) => x.key),
      },
    };
  } finally {
    await Promise.all(sides.map((x) => x.close()));
  }
}

/**
 * Order-independent checksum of every row of every copied leaf table, on the source's
 * columns (denormalized columns left out), both sides at once; differing tables are
 * bisected to name their first differing rows. Record hashing follows each type's
 * equality, deliberately: values equal to PostgreSQL (float -0 and 0, numeric 1.0 and
 * 1.00) hash alike, so only a change an application could observe through `=` counts.
 * The text fallback compares text forms and is stricter about those.
 *
 * The row counts come from the same scans: one read of each side per table instead
 * of two. A table whose checksum could not be computed is counted with `count(*)`
 * on its own.
 */
export async function checksumAndRowcountChecks(ctx: VerifyContext): Promise<{ rowcount: Check[]; checksum: Check[]; denormalized: Map<string, Check> }> {
  const types = new TypeHashes(ctx.pools.pool('source'));
  const versions = new ServerVersions(ctx);
  const tables = copiedTables(ctx.plan);
  // The denormalized columns' checks already run, by copy step id.
  const denormalized = new Map<string, Check>();
  const one = async (t: CopiedTable): Promise<{ rowcount: Check; checksum: Check }> => {
    // A table filled with lookups in one copy: its denormalized check hashes every copied
    // column with the looked-up ones, on both sides, so equal sums there prove the
    // copied columns equal too (the same rows with fewer columns): one read of each
    // side for both checks. When it differs, the table is compared on its own below,
    // which names its differing rows.
    const lookup = lookupCopyOf(ctx.plan, t.target, t.table);
    if (lookup) {
      const d = await compareStep(ctx, lookup, types, versions);
      denormalized.set(lookup.id, d);
      if (d.ok && isSideSum(d.source) && isSideSum(d.target)) {
        const [sv, tv] = await Promise.all([versions.of('source'), versions.of(t.target.server, t.target.database)]);
        ctx.progress(`checksum ${t.table}: equal`);
        const check = equalCheck(t, d.source, d.target, hashHow(hashModeFor(sv, tv)), t.columns.length);
        return {
          rowcount: rowcountCheck(t, d.source.rows, d.target.rows),
          checksum: { ...check, detail: `${check.detail}, read with its denormalized columns ${lookup.extraColumns.join(', ')}` },
        };
      }
    }
    let compared: Compared;
    try {
      compared = await compareTable(ctx, t, types, versions);
    } catch (err) {
      compared = { rows: null, check: { kind: 'checksum', service: t.service, table: t.table, ok: false, detail: `cannot compute checksums: ${errorText(err)}`, ...unverifiedBy(err) } };
    }
    const rows = compared.rows;
    const cut = rows && compared.cutover ? await cutoverCopyCheck(ctx, t, 'rowcount', rows) : null;
    const cutover = cut && 'pass' in cut ? cut.pass : null;
    const rowcount = cutover ?? (rows ? rowcountCheck(t, rows.source, rows.target) : await countTable(ctx, t));
    return { rowcount, checksum: compared.check };
  };
  // Small tables of one target database in one query per side; a table whose sums differ
  // (or a batch that cannot run) is compared again on its own, which names its rows.
  const many = async (batch: CopiedTable[]): Promise<Array<{ rowcount: Check; checksum: Check }>> => {
    const first = batch[0]!;
    const [sv, tv] = await Promise.all([versions.of('source'), versions.of(first.target.server, first.target.database)]);
    const mode = hashModeFor(sv, tv);
    let sums: Awaited<ReturnType<typeof batchSums>>;
    try {
      sums = await batchSums(ctx, batch, types, mode);
    } catch {
      return mapLimit(batch, 1, one);
    }
    return mapLimit(batch, 1, async (t, i) => {
        const { source: src, target: dst } = sums[i]!;
        if (src.rows !== dst.rows || src.sum !== dst.sum || src.sum === undefined) return one(t);
        ctx.progress(`checksum ${t.table}: equal`);
        return { rowcount: rowcountCheck(t, src.rows, dst.rows), checksum: equalCheck(t, src, dst, hashHow(mode), t.columns.length) };
    });
  };
  const byTable = new Map<CopiedTable, { rowcount: Check; checksum: Check }>();
  await mapLimit(checksumWork(tables), ctx.jobs, async (w) => {
    const list = 'batch' in w ? w.batch : [w.table];
    let done: Array<{ rowcount: Check; checksum: Check }>;
    try {
      done = 'batch' in w ? await many(w.batch) : [await one(w.table)];
    } catch (err) {
      // These tables only (a server that does not answer, say): the others are still compared.
      const failed = (t: CopiedTable, kind: 'rowcount' | 'checksum', what: string): Check =>
        ({ kind, service: t.service, table: t.table, ok: false, detail: `cannot ${what}: ${errorText(err)}`, ...unverifiedBy(err) });
      done = list.map((t) => ({ rowcount: failed(t, 'rowcount', 'count rows'), checksum: failed(t, 'checksum', 'compute checksums') }));
    }
    list.forEach((t, i) => byTable.set(t, done[i]!));
  });
  const both = tables.map((t) => byTable.get(t)!);
  return { rowcount: both.map((b) => b.rowcount), checksum: both.map((b) => b.checksum), denormalized };
}
