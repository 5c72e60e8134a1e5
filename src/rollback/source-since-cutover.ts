import type { Plan, TargetRef } from '../plan/model.js';
import type { PgClient, StepResult } from '../steps/handler.js';
import { cutoverCopies, cutoverCopyKey, sourceBaseline, type CutoverCopy } from '../verify/cutover-copies.js';
import { runSumQuery, serverMajor, sumQueries, tableCountSql, type SumMethod, type SumQueries, type TableSum } from '../retention/table-sums.js';
import { PlanBlockedError } from '../errors.js';

/** A table copied at cutover whose source rows changed since, behind its fence. */
export interface SourceChange {
  table: string;
  /** What differs: "4 rows at cutover, 5 now", "same 4 rows, another checksum". */
  what: string;
}

/**
 * What the source's copy of a cutover-copied table is compared with: the source's own
 * count and checksum at cutover, else (journals written before those were recorded) the
 * target's right after the copy when taken on the same server major, else the count.
 */
function baselineFor(copy: CutoverCopy, major: number): { rows: number; sum: TableSum | null } | null {
  if (copy.rows === null) return null;
  const sum = sourceBaseline(copy, major);
  return { rows: sum?.rows ?? copy.rows, sum };
}

/**
 * Rollback after an online cutover replaces the source rows of the tables cutover copied
 * (they are not reverse-replicated) with the target's. The source kept the cutover copy,
 * fenced; a write that went around the fence (a superuser disabling its trigger, a
 * session with `session_replication_role = replica`) would be lost without a word. This
 * compares each such table's source with what it held at cutover: prepared outside any
 * transaction (the checksum queries probe types), then asked table by table, inside the
 * transaction that holds the table's lock when it acts.
 */
export class SourceSinceCutover {
  private constructor(
    private readonly baselines: Map<string, { rows: number; sum: TableSum | null }>,
    private readonly queries: Map<string, SumQueries>,
  ) {}

  /** `copies`: table (`schema.name`) → its cutover baseline; tables without one are not compared. */
  static async prepare(client: PgClient, copies: ReadonlyMap<string, CutoverCopy>): Promise<SourceSinceCutover> {
    const major = await serverMajor(client);
    const baselines = new Map<string, { rows: number; sum: TableSum | null }>();
    for (const [table, copy] of copies) {
      const b = baselineFor(copy, major);
      if (b) baselines.set(table, b);
    }
    const byMethod = new Map<SumMethod, string[]>();
    for (const [table, b] of baselines) if (b.sum?.method) byMethod.set(b.sum.method, [...(byMethod.get(b.sum.method) ?? []), table]);
    const queries = new Map<string, SumQueries>();
    for (const [method, tables] of byMethod) {
      const prepared = await sumQueries(client, tables, method);
      for (const t of tables) queries.set(t, prepared);
    }
    return new SourceSinceCutover(baselines, queries);
  }

  /** The tables with a baseline. */
  get tables(): string[] {
    return [...this.baselines.keys()];
  }

  /** How `table` is compared: by checksum, by count only, or not at all (no baseline). */
  comparedBy(table: string): 'checksum' | 'rows' | null {
    const b = this.baselines.get(table);
    return b ? (b.sum ? 'checksum' : 'rows') : null;
  }

  /** What changed in `table` on the source since cutover, or null (unchanged, or no baseline). Runs in the caller's transaction. */
  async changed(client: PgClient, table: string): Promise<string | null> {
    const b = this.baselines.get(table);
    if (!b) return null;
    const prepared = this.queries.get(table);
    if (b.sum && prepared) {
      const now = await runSumQuery(client, prepared, table);
      if (!now) return 'the table is gone';
      if (now.rows !== b.rows) return `${b.rows} rows at cutover, ${now.rows} now`;
      return now.sum === b.sum.sum ? null : `same ${now.rows} rows, another checksum`;
    }
    const r = await client.query<{ rows: string }>(tableCountSql(table));
    const rows = Number(r.rows[0]?.rows ?? -1);
    return rows === b.rows ? null : `${b.rows} rows at cutover, ${rows} now`;
  }
}

/**
 * The cutover baselines of the tables copied back into the source from `target` (all
 * targets when undefined), by table. `pending`: only those of copy_back steps not done
 * yet: a done one already replaced its tables' source rows with the target's, which then
 * differ from the cutover record by the service's own writes, not by a write behind the fence.
 */
export function copiesOf(
  plan: Plan,
  done: ReadonlyMap<string, Pick<StepResult, 'detail'>>,
  target?: Pick<TargetRef, 'server' | 'database'>,
  opts: { pending?: boolean } = {},
): Map<string, CutoverCopy> {
  const all = cutoverCopies(plan, done);
  const out = new Map<string, CutoverCopy>();
  for (const back of plan.steps) {
    if (back.kind !== 'copy_back') continue;
    if (opts.pending && done.has(back.id)) continue;
    if (target && (back.target.server !== target.server || back.target.database !== target.database)) continue;
    for (const leaf of back.leaves) {
      const copy = all.get(cutoverCopyKey(back.target, leaf.table));
      if (copy) out.set(leaf.table, copy);
    }
  }
  return out;
}

/** Every table copied back by rollback (copy_back's leaves), as `schema.name`. */
export function copiedBackTables(plan: Plan): string[] {
  return plan.steps.flatMap((s) => (s.kind === 'copy_back' ? s.leaves.map((l) => l.table) : []));
}

/**
 * The refusal when the source of tables copied at cutover changed behind its fence
 * (exit 1). `fenced`: the new databases were fenced already (the refusal came from
 * copy_back itself, at the moment it would have replaced the rows).
 */
export function sourceWrittenError(split: string, source: string, changes: readonly SourceChange[], fenced: boolean): PlanBlockedError {
  const tables = changes.map((c) => c.table);
  return new PlanBlockedError(
    `split ${split}: ${changes.length === 1 ? 'a table' : `${changes.length} tables`} of ${source} copied at cutover changed since, behind the fence ` +
      `(rollback would replace those rows with the new database's, losing what was written there):\n  ` +
      changes.map((c) => `${c.table}: ${c.what}`).join('\n  ') +
      `\n${fenced ? `the new databases are fenced (writes refused) until rollback finishes; ${tables.length === 1 ? 'that table was' : 'those tables were'} left as ${tables.length === 1 ? 'it is' : 'they are'} in ${source}` : 'nothing was changed'}`,
    `save what was written to ${tables.length === 1 ? 'that table' : 'those tables'} of ${source} since cutover (or put it into the new database), then rerun ` +
      `\`cloudphone-split rollback --discard-source-writes ${tables.join(',')}\` to let rollback replace ${tables.length === 1 ? 'its' : 'their'} rows`,
  );
}
