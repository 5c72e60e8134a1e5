import type pg from 'pg';
import type { DenormalizeFill, Plan } from '../plan/model.js';
import type { Pools } from '../pg/pools.js';
import type { ProgressSink } from '../steps/handler.js';
import { fullFill } from './denormalize-fill.js';
import { withClient } from './pooled.js';
import {
  dropTracking,
  fillTag,
  primaryKeyOf,
  relkindOf,
  replicatedTo,
  schemaIsOurs,
  trackKeysSql,
  trackRowsSql,
  trackingInPlace,
  TRACK_SCHEMA,
  type TrackedFill,
} from './denormalize-tracking.js';

/** The denormalized columns the plan's catch_up fills. */
export function planFills(plan: Plan): DenormalizeFill[] {
  return plan.steps.flatMap((s) => (s.kind === 'catch_up' ? (s.fills ?? []) : []));
}

const key = (f: DenormalizeFill): string => `${f.target.database}:${f.table}.${f.column}`;

/**
 * The fills the targets can track: the source table is replicated by the split into a
 * plain table, and the fill's table is a plain table with a primary key. Others are
 * filled for every row after the fence.
 */
export async function trackableFills(pools: Pools, plan: Plan): Promise<TrackedFill[]> {
  const out: TrackedFill[] = [];
  for (const fill of planFills(plan)) {
    const from = replicatedTo(plan, fill);
    if (!from) continue;
    const ok = await withClient(pools, fill.target.server, fill.target.database, async (c) => (await relkindOf(c, fill.table)) === 'r' && (await primaryKeyOf(c, fill.table)).length > 0);
    if (!ok) continue;
    if ((await withClient(pools, from.server, from.database, (c) => relkindOf(c, fill.fromTable))) !== 'r') continue;
    out.push({ fill, from, tag: fillTag(fill) });
  }
  return out;
}

async function install(c: pg.ClientBase, sql: string[]): Promise<void> {
  const s = await schemaIsOurs(c);
  if (!s.ours) throw new Error(`a schema named ${TRACK_SCHEMA} exists in ${(await c.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db} and was not made by cloudphone-split: rename it, then run cutover again`);
  await c.query('BEGIN');
  try {
    await c.query(`SET LOCAL lock_timeout = '60s'`);
    for (const q of sql) await c.query(q);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** A fill that a concurrent apply worker deadlocked with is tried again (the rows it changed are recorded either way). */
async function fillRetrying(pools: Pools, f: DenormalizeFill): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fullFill(pools, f);
    } catch (err) {
      if ((err as { code?: string }).code !== '40P01' || attempt >= 3) throw err;
    }
  }
}

export interface PrepareReport {
  /** Fills whose rows written from now on are recorded: catch_up refills only those. */
  tracked: string[];
  /** Fills catch_up refills for every row (their source table is not replicated by the split, or no primary key). */
  untracked: string[];
  /** Rows the fill before the fence changed. */
  filled: number;
  ms: number;
}

/**
 * Before the fence (`cutover`): installs the tracking of every trackable fill (the
 * triggers record from their commit on), then fills those columns for every row from
 * the source: from then on the columns are current but for the rows recorded, which
 * `catch_up` refills after the fence. Safe to run again (it starts the record afresh
 * before it fills again).
 */
export async function prepareDenormalized(pools: Pools, plan: Plan, progress: ProgressSink): Promise<PrepareReport> {
  const t0 = Date.now();
  const tracked = await trackableFills(pools, plan);
  for (const t of tracked) {
    const f = t.fill;
    await withClient(pools, t.from.server, t.from.database, (c) => install(c, trackKeysSql(f, t.tag)));
    const pk = await withClient(pools, f.target.server, f.target.database, (c) => primaryKeyOf(c, f.table));
    await withClient(pools, f.target.server, f.target.database, (c) => install(c, trackRowsSql(f, t.tag, pk)));
  }
  let filled = 0;
  for (const t of tracked) filled += await fillRetrying(pools, t.fill);
  const report: PrepareReport = {
    tracked: tracked.map((t) => key(t.fill)),
    untracked: planFills(plan).filter((f) => !tracked.some((t) => t.fill === f)).map(key),
    filled,
    ms: Date.now() - t0,
  };
  if (tracked.length > 0) {
    progress.emit({
      type: 'log',
      level: 'info',
      message: `denormalized columns filled before the fence (${filled} rows in ${report.ms} ms); after it, only the rows written since are refilled`,
    });
  }
  return report;
}

/** Whether each trackable fill's record is in place (cutover installed it before the fence and catch_up has not removed it yet). */
export async function inPlace(pools: Pools, t: TrackedFill): Promise<boolean> {
  return withClient(pools, t.fill.target.server, t.fill.target.database, async (rowsDb) => {
    if (t.from.server === t.fill.target.server && t.from.database === t.fill.target.database) return trackingInPlace(rowsDb, rowsDb, t);
    return withClient(pools, t.from.server, t.from.database, (keysDb) => trackingInPlace(rowsDb, keysDb, t));
  });
}

/** Drops the tool's tracking schema from every database a fill of the plan may have put it in. */
export async function dropAllTracking(pools: Pools, plan: Plan): Promise<void> {
  const dbs = new Map<string, { server: string; database: string }>();
  for (const f of planFills(plan)) {
    dbs.set(`${f.target.server}\0${f.target.database}`, f.target);
    const from = replicatedTo(plan, f);
    if (from) dbs.set(`${from.server}\0${from.database}`, from);
  }
  for (const d of dbs.values()) {
    await withClient(pools, d.server, d.database, (c) => dropTracking(c)).catch((err: unknown) => {
      // A target database that is gone holds no tracking either.
      if ((err as { code?: string }).code !== '3D000') throw err;
    });
  }
}
