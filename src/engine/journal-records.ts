import type { Kysely, Selectable } from 'kysely';
import type { CreatedObject } from '../steps/handler.js';
import type { JournalDb, RetentionState, RetentionTable } from './journal-schema.js';

/** The split's row, which every other journal row of the split references. */
export async function ensureSplit(db: Kysely<JournalDb>, name: string): Promise<void> {
  await db.insertInto('splits').values({ name }).onConflict((oc) => oc.column('name').doNothing()).execute();
}

export function json(value: unknown): string {
  return JSON.stringify(value ?? null);
}

// ---- created objects -------------------------------------------------------------

export async function recordCreated(db: Kysely<JournalDb>, split: string, object: CreatedObject): Promise<void> {
  await ensureSplit(db, split);
  const detail = object.detail === undefined ? null : json(object.detail);
  await db
    .insertInto('created_objects')
    .values({ split, kind: object.kind, server: object.server, name: object.name, detail })
    .onConflict((oc) =>
      oc.columns(['split', 'kind', 'server', 'name']).doUpdateSet((eb) => ({
        detail: detail === null ? eb.ref('created_objects.detail') : eb.ref('excluded.detail'),
      })),
    )
    .execute();
}

export async function listCreated(db: Kysely<JournalDb>, split: string): Promise<CreatedObject[]> {
  const rows = await db
    .selectFrom('created_objects')
    .select(['kind', 'server', 'name', 'detail'])
    .where('split', '=', split)
    .orderBy('created_at')
    .orderBy('kind')
    .orderBy('name')
    .execute();
  return rows.map((r) => ({
    kind: r.kind as CreatedObject['kind'],
    server: r.server,
    name: r.name,
    ...(r.detail === null ? {} : { detail: r.detail as Record<string, unknown> }),
  }));
}

export async function forgetCreated(db: Kysely<JournalDb>, split: string, object: Pick<CreatedObject, 'kind' | 'server' | 'name'>): Promise<void> {
  await db
    .deleteFrom('created_objects')
    .where('split', '=', split)
    .where('kind', '=', object.kind)
    .where('server', '=', object.server)
    .where('name', '=', object.name)
    .execute();
}

// ---- retention ---------------------------------------------------------------------

/** A backup kept after a split: the old database, read-only until `expiresAt`. */
export interface RetentionRecord {
  id: number;
  split: string;
  server: string;
  database: string;
  expiresAt: Date;
  /** scheduled → pruned (dropped by `retention prune`) or restored (by `rollback`). */
  state: RetentionState;
  /** Set once `verify` passed for the split: only verified backups may be pruned. */
  verified: boolean;
  detail: Record<string, unknown> | null;
  createdAt: Date;
  updatedAt: Date;
}

function toRetention(r: Selectable<RetentionTable>): RetentionRecord {
  return {
    id: r.id,
    split: r.split,
    server: r.server,
    database: r.database,
    expiresAt: r.expires_at,
    state: r.state,
    verified: r.verified,
    detail: (r.detail as Record<string, unknown> | null) ?? null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Schedules (or reschedules) the backup of `database` on `server`; one row per (split, server, database). */
export async function scheduleRetention(
  db: Kysely<JournalDb>,
  split: string,
  r: { server: string; database: string; expiresAt: Date; verified?: boolean; detail?: Record<string, unknown> },
): Promise<RetentionRecord> {
  await ensureSplit(db, split);
  const detail = r.detail === undefined ? null : json(r.detail);
  const row = await db
    .insertInto('retention')
    .values({ split, server: r.server, database: r.database, expires_at: r.expiresAt, verified: r.verified ?? false, detail })
    .onConflict((oc) =>
      oc.columns(['split', 'server', 'database']).doUpdateSet((eb) => ({
        expires_at: eb.ref('excluded.expires_at'),
        state: 'scheduled',
        verified: r.verified === undefined ? eb.ref('retention.verified') : eb.ref('excluded.verified'),
        detail: detail === null ? eb.ref('retention.detail') : eb.ref('excluded.detail'),
        updated_at: new Date(),
      })),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
  return toRetention(row);
}

/** Backups of one split, or of every split when `split` is omitted, soonest expiry first. */
export async function listRetention(db: Kysely<JournalDb>, split?: string): Promise<RetentionRecord[]> {
  let q = db.selectFrom('retention').selectAll();
  if (split !== undefined) q = q.where('split', '=', split);
  const rows = await q.orderBy('expires_at').orderBy('id').execute();
  return rows.map(toRetention);
}

export async function updateRetention(
  db: Kysely<JournalDb>,
  id: number,
  patch: { state?: RetentionState; verified?: boolean; expiresAt?: Date; detail?: Record<string, unknown> | null },
): Promise<RetentionRecord | undefined> {
  const row = await db
    .updateTable('retention')
    .set({
      ...(patch.state === undefined ? {} : { state: patch.state }),
      ...(patch.verified === undefined ? {} : { verified: patch.verified }),
      ...(patch.expiresAt === undefined ? {} : { expires_at: patch.expiresAt }),
      ...(patch.detail === undefined ? {} : { detail: patch.detail === null ? null : json(patch.detail) }),
      updated_at: new Date(),
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  return row ? toRetention(row) : undefined;
}

export async function deleteRetention(db: Kysely<JournalDb>, id: number): Promise<boolean> {
  const r = await db.deleteFrom('retention').where('id', '=', id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

// ---- facts -------------------------------------------------------------------------

export async function getFact(db: Kysely<JournalDb>, split: string, key: string): Promise<unknown> {
  const row = await db.selectFrom('facts').select('value').where('split', '=', split).where('key', '=', key).executeTakeFirst();
  return row?.value;
}

export async function setFact(db: Kysely<JournalDb>, split: string, key: string, value: unknown): Promise<void> {
  if (value === undefined) throw new TypeError(`fact ${key}: undefined is not a JSON value`);
  await ensureSplit(db, split);
  await db
    .insertInto('facts')
    .values({ split, key, value: json(value) })
    .onConflict((oc) => oc.columns(['split', 'key']).doUpdateSet((eb) => ({ value: eb.ref('excluded.value'), updated_at: new Date() })))
    .execute();
}

export async function deleteFact(db: Kysely<JournalDb>, split: string, key: string): Promise<void> {
  await db.deleteFrom('facts').where('split', '=', split).where('key', '=', key).execute();
}
