import pg from 'pg';
import { nodePgConfig } from '../conn/node-pg.js';
import { connectError } from '../pg/errors.js';
import { PlanBlockedError } from '../errors.js';

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
