import type { StepOf } from '../plan/model.js';
import { ident, qname } from '../pg/quote.js';
import { stepsOf } from './plan-tables.js';
import { openPinned, type PinnedSide } from './sides.js';
import { errorText, mapLimit, type Check, type VerifyContext } from './check.js';

type CopyStep = StepOf<'copy_data'>;

/** The SELECT inside `COPY (SELECT …) TO STDOUT (…)`, or null for a plain `COPY table`. */
export function copySelect(copyOut: string): string | null {
  const m = /^COPY \((SELECT [\s\S]*)\) TO STDOUT \([^()]*\)$/.exec(copyOut);
  return m ? m[1]! : null;
}

/** Row count and order-independent hash of the rows a query returns, by their text form. */
export function hashOfRowsSql(select: string): string {
  return `SELECT count(*)::text AS n, coalesce(sum(hashtextextended(x::text, 0)), 0)::text AS h FROM (${select}) AS x`;
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

async function compareStep(ctx: VerifyContext, step: CopyStep): Promise<Check> {
  const table = step.table ?? `${step.source.schema}.${step.source.name}`;
  const service = step.service ?? step.target.service;
  const columns = step.extraColumns.join(', ');
  const part = step.range ? ` (range ${step.range.index + 1} of ${step.range.of})` : '';
  const base = { kind: 'denormalized' as const, service, table };
  const select = copySelect(step.copyOut);
  if (select === null) return { ...base, ok: false, detail: `cannot read the fill query of ${table}${part}: the plan's copy is not a query` };
  const sides: PinnedSide[] = [];
  try {
    sides.push(await openPinned(ctx.pools.pool('source')));
    sides.push(await openPinned(ctx.pools.pool(step.target.server, step.target.database)));
    const [s, d] = sides as [PinnedSide, PinnedSide];
    const [[sr], [tr]] = await Promise.all([
      s.query<{ n: string; h: string }>(hashOfRowsSql(select)),
      d.query<{ n: string; h: string }>(hashOfRowsSql(targetSelect(step))),
    ]);
    const src = { rows: Number(sr?.n), sum: sr?.h };
    const dst = { rows: Number(tr?.n), sum: tr?.h };
    const ok = src.rows === dst.rows && src.sum === dst.sum;
    ctx.progress(`denormalized ${table}${part}: ${ok ? 'equal' : 'differs'}`);
    return {
      ...base,
      ok,
      source: src,
      target: dst,
      detail: ok
        ? `${dst.rows} rows${part}: ${columns} equal the source's lookup`
        : `${columns}${part} differ from what the source's lookup gives now (source ${src.rows} rows, target ${dst.rows}): ` +
          'the fill is wrong or a row changed on either side since the copy; `rollback` then `apply` refills them',
    };
  } catch (err) {
    return { ...base, ok: false, detail: `cannot compare the denormalized columns ${columns}${part}: ${errorText(err)}` };
  } finally {
    await Promise.all(sides.map((x) => x.close()));
  }
}

/**
 * The denormalized columns hold what the plan's fill reads from the source, row by row:
 * the source side runs the copy's own query (the table joined with its lookups) and the
 * target side reads the same columns back; both are hashed by text form under pinned
 * settings. Checksums leave these columns out (the source table has none of them), so
 * a fill that wrote NULLs or the wrong row's value is caught here. Offline plans only:
 * online mode fills them at cutover from the replicated rows.
 */
export async function denormalizedChecks(ctx: VerifyContext): Promise<Check[]> {
  const steps = stepsOf(ctx.plan, 'copy_data').filter((s) => s.extraColumns.length > 0);
  return mapLimit(steps, ctx.jobs, (step) => compareStep(ctx, step));
}
