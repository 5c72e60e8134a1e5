import pg from 'pg';
import { nodePgConfig } from '../conn/node-pg.js';
import { connectError } from '../pg/errors.js';
import { PlanBlockedError } from '../errors.js';
import type { Catalog } from '../catalog/model.js';
import { tableKey } from '../catalog/model.js';
import { isTableRetentionComment } from '../retention/table-backup.js';
import type { MovedTable } from './moved-table.js';

/** The split whose retention comment the connected database carries (`retentionComment`), or null. */
export function retiringSplitOf(comment: string | null): { split: string; expires: string } | null {
  const m = /^cloudphone-split: backup of split (.+), read-only; expires (\S+);/.exec(comment ?? '');
  return m ? { split: m[1]!, expires: m[2]! } : null;
}

/**
 * Refuses (exit 1) a split of a source database that another split retired (`source.retire`:
 * read-only, its backup until `retention prune` drops it): its fence, made in that database,
 * could never be written, and its run would stop half-way after creating its databases.
 * Retiring is for the last wave. Read before anything changes, by `plan` and `apply`.
 */
export async function refuseRetiredSource(sourceUrl: string, split: string): Promise<void> {
  const client = new pg.Client(nodePgConfig(sourceUrl, { application_name: 'cloudphone-split' }));
  client.on('error', () => undefined);
  let retired: { split: string; expires: string } | null;
  let database: string;
  try {
    await client.connect();
    const r = await client.query<{ db: string; comment: string | null }>(
      `SELECT current_database() AS db, pg_catalog.shobj_description(d.oid, 'pg_database') AS comment FROM pg_catalog.pg_database d WHERE d.datname = current_database()`,
    );
    database = r.rows[0]?.db ?? '';
    retired = retiringSplitOf(r.rows[0]?.comment ?? null);
  } catch (err) {
    throw connectError(err, sourceUrl, 'source');
  } finally {
    await client.end().catch(() => undefined);
  }
  if (!retired || retired.split === split) return;
  throw new PlanBlockedError(
    `the source database ${database} was retired by split ${retired.split} (read-only, its backup until ${retired.expires}): split ${split} cannot fence or move its tables there, nothing was changed`,
    `retiring is for the last wave: roll split ${retired.split} back (\`cloudphone-split rollback\` with its manifest), apply this split, then apply ${retired.split} again`,
  );
}

/**
 * Refuses (exit 1) to retire the source while another split of it is applied only in part
 * (`apply --service`): its fence is up on some tables, which carry no backup mark of it yet
 * (its last service writes them), and the services it has left could never be moved from a
 * read-only database. `catalog`: the source as read now (its `fences` and table comments).
 */
export function refuseRetiringOverUnfinished(catalog: Catalog, split: string, retire: boolean): void {
  if (!retire) return;
  const comments = new Map(catalog.tables.map((t) => [tableKey(t), t.comment]));
  const unfinished = new Map<string, string[]>();
  for (const f of catalog.fences ?? []) {
    if (f.split === split || isTableRetentionComment(comments.get(f.table) ?? null, f.split)) continue;
    unfinished.set(f.split, [...(unfinished.get(f.split) ?? []), f.table]);
  }
  if (unfinished.size === 0) return;
  const named = [...unfinished].map(([s, tables]) => `split ${s} (${tables.length} fenced ${tables.length === 1 ? 'table' : 'tables'} without its backup mark, e.g. ${tables[0]})`);
  throw new PlanBlockedError(
    `split ${split} retires the source, but ${named.join('; ')} ${unfinished.size === 1 ? 'is' : 'are'} applied only in part: ` +
      `the services left could never move out of a read-only database; nothing was changed`,
    `finish ${unfinished.size === 1 ? 'that split' : 'those splits'} first (\`cloudphone-split apply\` with ${unfinished.size === 1 ? 'its' : 'their'} manifest), or roll ${unfinished.size === 1 ? 'it' : 'them'} back, then plan and apply this one`,
  );
}

/**
 * Refuses (exit 1) to retire the source while another split of it is being moved: its
 * apply started (the journal says so) and has not fenced its tables yet (interrupted, or
 * running). Its services could never move out of a read-only database, and it could not
 * even finish. `moved`: the tables earlier splits moved or are moving, read now.
 */
export function refuseRetiringOverMoving(moved: readonly MovedTable[], split: string, retire: boolean): void {
  if (!retire) return;
  const moving = new Map<string, string[]>();
  for (const m of moved) if (m.state === 'moving' && m.split !== split) moving.set(m.split, [...(moving.get(m.split) ?? []), m.table]);
  if (moving.size === 0) return;
  const named = [...moving].map(([s, tables]) => `split ${s} (${tables.length} ${tables.length === 1 ? 'table' : 'tables'} not fenced yet, e.g. ${tables[0]})`);
  throw new PlanBlockedError(
    `split ${split} retires the source, but ${named.join('; ')} ${moving.size === 1 ? 'has' : 'have'} started moving and not finished: ` +
      `${moving.size === 1 ? 'it' : 'they'} could not fence ${moving.size === 1 ? 'its' : 'their'} tables in a read-only database, nor ${moving.size === 1 ? 'its' : 'their'} services move out of it; nothing was changed`,
    `finish ${moving.size === 1 ? 'that split' : 'those splits'} first (\`cloudphone-split apply\` with ${moving.size === 1 ? 'its' : 'their'} manifest resumes it), or roll ${moving.size === 1 ? 'it' : 'them'} back, then plan and apply this one`,
  );
}
