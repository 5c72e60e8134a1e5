import { sql, type Kysely } from 'kysely';
import type { Plan } from '../plan/model.js';
import { JOURNAL_SCHEMA } from '../../migrations/index.js';
import type { JournalDb, RunState } from './journal-schema.js';
import { SPLIT_LOCK_NAMESPACE } from './lock.js';

/** A split's latest run that was not rolled back, as a later (or earlier) wave sees it. */
export interface SplitRecord {
  split: string;
  runId: number;
  state: RunState;
  startedAt: Date;
  finishedAt: Date | null;
  plan: Plan;
  /** When its `fence_source` step finished (in a run not rolled back); null: not fenced yet. */
  fencedAt: Date | null;
  /** Whether that run changed anything (see runChangedAnything): false for one stopped at its preflight. */
  changed: boolean;
  /** Whether an apply of that split holds its lock now (engine/lock.ts): a run that changed nothing yet may be about to. */
  live: boolean;
  /** The system identifier of the source server it ran on (fact `source`, written by apply); null: not recorded. */
  systemIdentifier: string | null;
  /** The OID of the source database it ran against (same fact); null: not recorded (journals of earlier versions). */
  databaseOid: string | null;
}

/** The journal fact (key `source`) apply writes for a split: the source it runs against. */
export const SOURCE_FACT = 'source';
export interface SourceFact {
  database: string;
  systemIdentifier: string;
  databaseOid?: string;
}

/**
 * Every split of the journal but `exclude` that has a run not rolled back: its latest
 * such run and plan, and when its fence went up. Oldest first (by that run's start).
 */
export async function splitRecords(db: Kysely<JournalDb>, exclude: string | null): Promise<SplitRecord[]> {
  const runs = await sql<{ id: number; split: string; state: RunState; started_at: Date; finished_at: Date | null; plan: unknown; fenced_at: Date | null; source: unknown; changed: boolean; live: boolean }>`
    SELECT DISTINCT ON (r.split) r.id, r.split, r.state, r.started_at, r.finished_at, r.plan,
           (SELECT min(s.finished_at) FROM ${sql.id(JOURNAL_SCHEMA, 'steps')} s JOIN ${sql.id(JOURNAL_SCHEMA, 'runs')} r2 ON r2.id = s.run_id
             WHERE r2.split = r.split AND r2.state <> 'rolled_back' AND s.kind = 'fence_source' AND s.state = 'done') AS fenced_at,
           (SELECT f.value FROM ${sql.id(JOURNAL_SCHEMA, 'facts')} f WHERE f.split = r.split AND f.key = ${SOURCE_FACT}) AS source,
           -- As runChangedAnything: a preflight that never passed changed nothing, else any step done did.
           (EXISTS (SELECT 1 FROM ${sql.id(JOURNAL_SCHEMA, 'steps')} s WHERE s.run_id = r.id AND s.state = 'done')
             AND (NOT EXISTS (SELECT 1 FROM ${sql.id(JOURNAL_SCHEMA, 'steps')} s WHERE s.run_id = r.id AND s.kind = 'preflight')
                  OR EXISTS (SELECT 1 FROM ${sql.id(JOURNAL_SCHEMA, 'steps')} s WHERE s.run_id = r.id AND s.kind = 'preflight' AND s.state = 'done'))) AS changed,
           -- The split's lock (engine/lock.ts), held by a session of this database.
           EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
                    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                      AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
                      AND l.classid = hashtext(${SPLIT_LOCK_NAMESPACE})::oid AND l.objid = hashtext(r.split)::oid) AS live
      FROM ${sql.id(JOURNAL_SCHEMA, 'runs')} r
     WHERE r.state <> 'rolled_back' AND (${exclude}::text IS NULL OR r.split <> ${exclude})
     ORDER BY r.split, r.id DESC`.execute(db);
  return runs.rows
    .map((r) => ({
      split: r.split,
      runId: r.id,
      state: r.state,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      plan: (typeof r.plan === 'string' ? JSON.parse(r.plan) : r.plan) as Plan,
      fencedAt: r.fenced_at,
      changed: r.changed,
      live: r.live,
      systemIdentifier: sourceFact(r.source)?.systemIdentifier ?? null,
      databaseOid: sourceFact(r.source)?.databaseOid ?? null,
    }))
    .sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime() || a.runId - b.runId);
}

function sourceFact(v: unknown): SourceFact | null {
  const o = (typeof v === 'string' ? JSON.parse(v) : v) as Partial<SourceFact> | null;
  if (!o || typeof o.systemIdentifier !== 'string' || typeof o.database !== 'string') return null;
  return { database: o.database, systemIdentifier: o.systemIdentifier, ...(typeof o.databaseOid === 'string' ? { databaseOid: o.databaseOid } : {}) };
}
