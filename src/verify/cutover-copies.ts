import type { Plan, TargetRef } from '../plan/model.js';
import type { StepResult } from '../steps/handler.js';
import { readSum, serverMajor, tableSums, type TableSum } from '../retention/table-sums.js';
import { tableKey } from '../catalog/model.js';
import type { CopiedTable } from './plan-tables.js';
import type { Check, VerifyContext } from './check.js';

/**
 * A table of an online split that cutover copied after the fence and that reverse
 * replication does not carry (UNLOGGED, no replica identity: rollback copies it back
 * instead), with what its target held right after that copy (cutover's verify_rowcounts).
 * Once the service writes to it, the source keeps the cutover copy and the two sides
 * differ for good; what can still be proven is that the copy was exact: the source,
 * fenced and unchanged since, against the target's count and checksum at cutover.
 */
export interface CutoverCopy {
  rows: number | null;
  /** The target's count and checksum right after the copy. */
  sum: TableSum | null;
  /** The (fenced) source's, taken beside it; null in journals written before it was recorded. */
  sourceSum: TableSum | null;
}

export const cutoverCopyKey = (target: Pick<TargetRef, 'server' | 'database'>, table: string): string => `${target.server}\0${target.database}\0${table}`;

/** The tables rollback copies back (`copy_back`), with their cutover baselines where verify_rowcounts ran. */
export function cutoverCopies(plan: Plan, done: ReadonlyMap<string, Pick<StepResult, 'detail'>>): Map<string, CutoverCopy> {
  const out = new Map<string, CutoverCopy>();
  if (plan.mode !== 'online') return out;
  for (const back of plan.steps) {
    if (back.kind !== 'copy_back') continue;
    const check = plan.steps.find((s) => s.kind === 'verify_rowcounts' && s.target.server === back.target.server && s.target.database === back.target.database);
    const detail = check ? done.get(check.id)?.detail : undefined;
    if (!detail) continue;
    const counts = (detail.counts ?? {}) as Record<string, unknown>;
    const sums = (detail.sums ?? {}) as Record<string, unknown>;
    const sourceSums = (detail.sourceSums ?? {}) as Record<string, unknown>;
    for (const leaf of back.leaves) {
      const rows = counts[leaf.table];
      out.set(cutoverCopyKey(back.target, leaf.table), { rows: typeof rows === 'number' ? rows : null, sum: readSum(sums[leaf.table]), sourceSum: readSum(sourceSums[leaf.table]) });
    }
  }
  return out;
}

/**
 * What the source's copy of a cutover-copied table is compared with, on a source server
 * of major `major`: the source's own count and checksum at cutover, else (journals
 * written before those were recorded) the target's right after the copy when taken on
 * the same major; null when neither was taken the way the source can take it now.
 */
export function sourceBaseline(copy: CutoverCopy, major: number): TableSum | null {
  const same = (s: TableSum | null) => (s?.method && s.major === major ? s : null);
  return same(copy.sourceSum) ?? same(copy.sum);
}

/** What a table copied at cutover that differs from the source is found to be. */
export type CutoverVerdict =
  /** The source still equals what the copy wrote: the service wrote to the target since (a passing check). */
  | { pass: Check }
  /** The source no longer equals the copy: something wrote to it behind its fence (said beside the difference). */
  | { changed: string };

/**
 * When a table copied at cutover differs from the source: whether the source still
 * equals what the copy wrote (the service wrote to the target since, which is not a
 * difference of the split); null when it is not such a table or nothing recorded tells.
 * With `--checksums` the source's checksum is taken the way its baseline was
 * (sourceBaseline); without, the source's count against the copy's. `shown`: the
 * check's `source` and `target` as its caller reports them (a checksum's sums).
 */
export async function cutoverCopyCheck(
  ctx: VerifyContext,
  t: CopiedTable,
  kind: 'rowcount' | 'checksum',
  now: { source: number; target: number },
  shown: { source: Check['source']; target: Check['target'] } = now,
): Promise<CutoverVerdict | null> {
  const copy = ctx.cutoverCopies?.get(cutoverCopyKey(t.target, t.table));
  if (!copy || copy.rows === null) return null;
  const base = { kind, service: t.service, table: t.table, ok: true, source: shown.source, target: shown.target };
  const why = `written by the service since cutover (target ${now.target} rows now); cutover copied it after the fence and reverse replication does not carry it (rollback copies it back), so the source keeps the cutover copy`;
  const changed = (what: string) => ({
    changed: `the source's copy of this table no longer equals what cutover copied (${what}): something wrote to it behind its fence, and a rollback would replace those rows with the target's`,
  });
  if (now.source !== copy.rows) return changed(`${copy.rows} rows at cutover, ${now.source} now`);
  if (kind === 'rowcount') return { pass: { ...base, detail: `${why}: source ${now.source} rows, the copy's ${copy.rows} at cutover` } };
  const client = await ctx.pools.pool('source').connect();
  try {
    const sum = sourceBaseline(copy, await serverMajor(client));
    if (!sum?.method) return null;
    const source = (await tableSums(client, [tableKey(t.source)], sum.method))[tableKey(t.source)];
    if (!source) return null;
    if (source.rows !== sum.rows || source.sum !== sum.sum) return changed(`same ${source.rows} rows, another checksum`);
    const whose = sum === copy.sourceSum ? 'its own' : "the target's";
    return { pass: { ...base, detail: `${why}: the source's ${source.rows} rows and checksum equal ${whose} at cutover` } };
  } finally {
    client.release();
  }
}

/**
 * The leaves of a partitioned table whose counts differ only because the service wrote
 * to them since cutover: copied at cutover, and the source's count still the copy's.
 */
export function leavesWrittenSinceCutover(
  ctx: Pick<VerifyContext, 'cutoverCopies'>,
  target: Pick<TargetRef, 'server' | 'database'>,
  source: ReadonlyMap<string, number>,
  now: ReadonlyMap<string, number>,
): Set<string> {
  const out = new Set<string>();
  for (const [leaf, rows] of source) {
    const copy = ctx.cutoverCopies?.get(cutoverCopyKey(target, leaf));
    if (copy && now.has(leaf) && now.get(leaf) !== rows && copy.rows === rows) out.add(leaf);
  }
  return out;
}
