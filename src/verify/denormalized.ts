import { raiseWorkMemSql } from '../steps/denormalize-lookup.js';
import type { Plan, StepOf, TargetRef } from '../plan/model.js';
import { ident, qname } from '../pg/quote.js';
import { stepsOf } from './plan-tables.js';
import { openPinned, ServerVersions, type PinnedSide } from './sides.js';
import { errorText, unverifiedBy, mapLimit, type Check, type VerifyContext } from './check.js';
import { boundRowHashExpr, hashModeFor, ROW_ALIAS, rowExpr, type HashColumn, type HashMode } from './checksum-sql.js';
import { findDifferingRows, type RowDiff, type RowKey } from './bisect.js';
import { describeDiffs, MAX_KEYS, primaryKey } from './row-names.js';
import { TypeHashes } from './column-hash.js';

type CopyStep = StepOf<'copy_data'>;

/** The SELECT inside `COPY (SELECT …) TO STDOUT (…)`, or null for a plain `COPY table`. */
export function copySelect(copyOut: string): string | null {
  const m = /^COPY \((SELECT [\s\S]*)\) TO STDOUT \([^()]*\)$/.exec(copyOut);
  return m ? m[1]! : null;
}

/**
 * Row count and order-independent hash of the rows a query returns (`columns`: all of
 * them, in order). `record`: the checksums' bound row hash (boundRowHashExpr: the columns
 * without a portable hash, and every denormalized column, through text; seeded by the
 * primary key); `text`: the row's text form (servers of different majors, or older than 14).
 */
export function hashOfRowsSql(select: string, mode: HashMode = 'text', columns: readonly HashColumn[] = []): string {
  const row = mode === 'record' ? boundRowHashExpr(columns, mode, 'x') : 'hashtextextended(x::text, 0)';
  // Named by position: the fill query's lookups keep the referenced column's own name.
  const names = mode === 'record' ? `(${columns.map((c) => ident(c.name)).join(', ')})` : '';
  return `SELECT count(*)::text AS n, coalesce(sum(${row}), 0)::text AS h FROM (${select}) AS x${names}`;
}

/**
 * What the target holds for one copy step: the copied and the denormalized columns in
 * the copy's order, within the same key range (its predicate is written on alias `s`).
 */
export function targetSelect(step: Pick<CopyStep, 'source' | 'columns' | 'extraColumns' | 'range'>): string {
  const cols = [...step.columns, ...step.extraColumns].map((c) => `s.${ident(c)}`).join(', ');
  const where = step.range ? ` WHERE ${step.range.where}` : '';
  return `SELECT ${cols} FROM ONLY ${qname(step.source)} AS s${where}`;
}

/**
 * The one copy step of a target table that filled denormalized columns, when the
 * whole table came through it (no key ranges): its check reads every copied column
 * with the lookups', so a pass proves the table's checksum too (see `checksum.ts`).
 */
export function lookupCopyOf(plan: Plan, target: TargetRef, table: string): CopyStep | null {
  const steps = stepsOf(plan, 'copy_data').filter(
    (s) => s.target.server === target.server && s.target.database === target.database && (s.table ?? `${s.source.schema}.${s.source.name}`) === table,
  );
  const only = steps.length === 1 ? steps[0]! : null;
  return only && only.extraColumns.length > 0 && !only.range && copySelect(only.copyOut) !== null ? only : null;
}

export async function compareStep(ctx: VerifyContext, step: CopyStep, types: TypeHashes, versions: ServerVersions): Promise<Check> {
  const table = step.table ?? `${step.source.schema}.${step.source.name}`;
  const service = step.service ?? step.target.service;
  const columns = step.extraColumns.join(', ');
  const part = step.range ? ` (range ${step.range.index + 1} of ${step.range.of})` : '';
  const base = { kind: 'denormalized' as const, service, table };
  const select = copySelect(step.copyOut);
  if (select === null) return { ...base, ok: false, detail: `cannot read the fill query of ${table}${part}: the plan's copy is not a query` };
  const sides: PinnedSide[] = [];
  try {
    const [sv, tv] = await Promise.all([versions.of('source'), versions.of(step.target.server, step.target.database)]);
    const mode = hashModeFor(sv, tv);
    // The copied columns as the checksums hash them; the denormalized ones (typed by the lookup) through text.
    const hashed: HashColumn[] = mode === 'record' ? [...(await types.columns(step.source, step.columns)), ...step.extraColumns.map((name) => ({ name, text: true }))] : [];
    const opened = await Promise.allSettled([openPinned(ctx.pools.pool('source')), openPinned(ctx.pools.pool(step.target.server, step.target.database))]);
    for (const o of opened) if (o.status === 'fulfilled') sides.push(o.value);
    for (const o of opened) if (o.status === 'rejected') throw o.reason;
    const [s, d] = sides as [PinnedSide, PinnedSide];
    // The copy's room for its lookups' hash, for this transaction only.
    if (step.lookupWorkMemKb) await s.query(raiseWorkMemSql(step.lookupWorkMemKb, true));
    const [[sr], [tr]] = await Promise.all([
      s.query<{ n: string; h: string }>(hashOfRowsSql(select, mode, hashed)),
      d.query<{ n: string; h: string }>(hashOfRowsSql(targetSelect(step), mode, hashed)),
    ]);
    const src = { rows: Number(sr?.n), sum: sr?.h };
    const dst = { rows: Number(tr?.n), sum: tr?.h };
    const ok = src.rows === dst.rows && src.sum === dst.sum;
    ctx.progress(`denormalized ${table}${part}: ${ok ? 'equal' : 'differs'}`);
    if (ok) return { ...base, ok, source: src, target: dst, detail: `${dst.rows} rows${part}: ${columns} equal the source's lookup` };
    // Naming the rows is a help: the check has failed whether or not they can be found.
    const diffs = await differingRows(ctx, step, select, mode, hashed, s, d, Math.max(src.rows, dst.rows)).catch(() => []);
    const where = diffs.length > 0 ? `: rows differ at ${describeDiffs(diffs)}` : '';
    return {
      ...base,
      ok,
      source: src,
      target: dst,
      detail:
        `${columns}${part} differ from what the source's lookup gives now (source ${src.rows} rows, target ${dst.rows})${where}; ` +
        'the fill is wrong or a row changed on either side since the copy; `rollback` then `apply` refills them',
      ...(diffs.length > 0 ? { keys: diffs.map((x) => x.key) } : {}),
    };
  } catch (err) {
    return { ...base, ok: false, detail: `cannot compare the denormalized columns ${columns}${part}: ${errorText(err)}`, ...unverifiedBy(err) };
  } finally {
    await Promise.all(sides.map((x) => x.close()));
  }
}

/**
 * The first rows whose copied or looked-up columns differ, by the table's primary key (or
 * the whole row without one): the bisection of the checksums, reading the fill query on
 * the source and the table on the target.
 */
async function differingRows(
  ctx: VerifyContext,
  step: CopyStep,
  select: string,
  mode: HashMode,
  hashed: readonly HashColumn[],
  s: PinnedSide,
  d: PinnedSide,
  rows: number,
): Promise<RowDiff[]> {
  const names = [...step.columns, ...step.extraColumns];
  const columns: readonly HashColumn[] = mode === 'record' ? hashed : names.map((name) => ({ name, text: true }));
  const pk = await primaryKey(ctx.pools.pool('source'), step.source);
  const key: RowKey = pk.length > 0 && pk.every((c) => names.includes(c.name))
    ? { kind: 'primary', columns: pk.map((c) => c.name), integer: pk.length === 1 && pk[0]!.integer }
    : { kind: 'row', rowText: `${rowExpr(columns.map((c) => ({ ...c, text: true })), 'text')}::text` };
  return findDifferingRows({
    // Named by position, as in hashOfRowsSql; the target side within the step's key range.
    from: {
      source: `(${select}) AS ${ROW_ALIAS}(${names.map((c) => ident(c)).join(', ')})`,
      target: `(${targetSelect(step)}) AS ${ROW_ALIAS}`,
    },
    rowHash: boundRowHashExpr(columns, mode),
    key,
    source: s.query,
    target: d.query,
    rows,
    limit: MAX_KEYS,
  });
}

/**
 * The denormalized columns hold what the plan's fill reads from the source, row by row:
 * the source side runs the copy's own query (the table joined with its lookups) and the
 * target side reads the same columns back; both are hashed by text form under pinned
 * settings. Checksums leave these columns out (the source table has none of them), so
 * a fill that wrote NULLs or the wrong row's value is caught here. Offline plans only:
 * online mode fills them at cutover from the replicated rows.
 */
export async function denormalizedChecks(ctx: VerifyContext, done: ReadonlyMap<string, Check> = new Map()): Promise<Check[]> {
  const steps = stepsOf(ctx.plan, 'copy_data').filter((s) => s.extraColumns.length > 0);
  const types = new TypeHashes(ctx.pools.pool('source'));
  const versions = new ServerVersions(ctx);
  // Steps the checksums already compared with their lookups (one read of each side for both checks).
  return mapLimit(steps, ctx.jobs, async (step) => done.get(step.id) ?? compareStep(ctx, step, types, versions));
}
