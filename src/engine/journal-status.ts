import type { Kysely } from 'kysely';
import type { JournalDb, RunState, StepState } from './journal-schema.js';

/** One step of a run as `status --json` shows it; `rows`, `bytes`, `error` only when known. */
export interface StepStatus {
  id: string;
  kind: string;
  state: StepState;
  service?: string;
  table?: string;
  rows?: number;
  bytes?: number;
  error?: string;
  startedAt?: string;
  finishedAt?: string;
  ms?: number;
  /** Copy steps: the plan's estimates; while running, the rate so far and the time left (see step-rates.ts). */
  rowsEstimate?: number;
  bytesEstimate?: number;
  bytesPerSecond?: number;
  etaSeconds?: number;
}

/** One run; steps in plan order. Times are ISO 8601; `finishedAt` is null while running. */
export interface RunStatus {
  id: number;
  state: RunState;
  startedAt: string;
  finishedAt: string | null;
  planHash: string;
  error?: string;
  pid?: number;
  host?: string;
  steps: StepStatus[];
}

/** The `status --json` shape of SPEC §2: runs newest first. */
export interface SplitStatus {
  name: string;
  runs: RunStatus[];
}

export function toCount(value: string | null): number | undefined {
  return value === null ? undefined : Number(value);
}

export async function splitStatus(db: Kysely<JournalDb>, name: string, limit?: number): Promise<SplitStatus> {
  let q = db.selectFrom('runs').selectAll().where('split', '=', name).orderBy('id', 'desc');
  if (limit !== undefined) q = q.limit(limit);
  const runs = await q.execute();
  if (runs.length === 0) return { name, runs: [] };
  const steps = await db
    .selectFrom('steps')
    .selectAll()
    .where(
      'run_id',
      'in',
      runs.map((r) => r.id),
    )
    .orderBy('run_id')
    .orderBy('ordinal')
    .execute();
  const byRun = new Map<number, StepStatus[]>();
  for (const s of steps) {
    const out: StepStatus = { id: s.step_id, kind: s.kind, state: s.state };
    if (s.service !== null) out.service = s.service;
    if (s.table !== null) out.table = s.table;
    const rows = toCount(s.rows);
    const bytes = toCount(s.bytes);
    if (rows !== undefined) out.rows = rows;
    if (bytes !== undefined) out.bytes = bytes;
    if (s.error !== null) out.error = s.error;
    if (s.started_at) out.startedAt = s.started_at.toISOString();
    if (s.finished_at) out.finishedAt = s.finished_at.toISOString();
    if (s.started_at && s.finished_at) out.ms = s.finished_at.getTime() - s.started_at.getTime();
    let list = byRun.get(s.run_id);
    if (!list) byRun.set(s.run_id, (list = []));
    list.push(out);
  }
  return {
    name,
    runs: runs.map((r) => ({
      id: r.id,
      state: r.state,
      startedAt: r.started_at.toISOString(),
      finishedAt: r.finished_at ? r.finished_at.toISOString() : null,
      planHash: r.plan_hash,
      ...(r.error === null ? {} : { error: r.error }),
      ...(r.pid === null ? {} : { pid: r.pid }),
      ...(r.host === null ? {} : { host: r.host }),
      steps: byRun.get(r.id) ?? [],
    })),
  };
}
