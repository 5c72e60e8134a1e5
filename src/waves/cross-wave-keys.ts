import type pg from 'pg';
import { FENCE_TRIGGER } from '../steps/fence-source.js';
import { fenceOfDefinition } from './fence-triggers.js';

/** A foreign key of the source, `schema.name` at both ends (declared ones, not a partition's clones). */
export interface SourceForeignKey {
  table: string;
  constraint: string;
  references: string;
  definition: string;
  /** `ALTER TABLE … DROP CONSTRAINT …`, quoted where needed. */
  drop: string;
}

/**
 * What a rollback of one wave leaves between its tables, writable again, and another
 * split's fenced backups (SPEC §7): the source keeps the foreign keys between them. A
 * backup's key to a table coming back runs its ON DELETE/UPDATE action on the fenced
 * backup, which refuses it (every DELETE of that table fails, even of rows nothing
 * references), or without action keeps referenced rows from being deleted; a key from a
 * table coming back to a backup checks new rows against that stale backup, refusing rows
 * that reference what the other split's services wrote since. One warning per key, with
 * the statement that drops it. `own`: the tables this rollback unfences; `otherFences`:
 * table → split of the fences that stay. Pure.
 */
export function crossWaveKeyWarnings(keys: readonly SourceForeignKey[], own: ReadonlySet<string>, otherFences: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const k of keys) {
    const drop = k.drop;
    const backupOf = otherFences.get(k.table);
    if (backupOf !== undefined && own.has(k.references)) {
      const actions = [...k.definition.matchAll(/\bON (DELETE|UPDATE) (CASCADE|SET NULL|SET DEFAULT)\b/g)].map((m) => `ON ${m[1]} ${m[2]}`);
      const what = actions.length > 0
        ? `${actions.join(' ')}: every ${actions.some((a) => a.startsWith('ON DELETE')) ? 'DELETE' : 'key UPDATE'} on ${k.references} runs that action on the fenced backup and fails there, even for rows nothing references`
        : `a row of ${k.references} that the backup still references can no longer be deleted`;
      out.push(
        `${k.table}, split ${backupOf}'s fenced backup, keeps its foreign key ${k.constraint} to ${k.references}, which this rollback gives back to the source's services; ${what}. ` +
          `Drop it in the source if that matters (${drop}); a rollback of split ${backupOf} would then give the source back without it`,
      );
    }
    const target = otherFences.get(k.references);
    if (target !== undefined && own.has(k.table)) {
      out.push(
        `${k.table}, given back to the source's services, keeps its foreign key ${k.constraint} to ${k.references}, split ${target}'s fenced backup: ` +
          `a row referencing one that split's services wrote in their database since is refused. Drop it in the source if that matters (${drop}); ` +
          `pruning split ${target}'s backups drops it too`,
      );
    }
  }
  return out.sort();
}

/**
 * The warnings above, read live from the source: its declared foreign keys and the
 * fences that stay (other splits', or the same split's other services' on a rollback of
 * some services only).
 */
export async function readCrossWaveKeys(client: pg.ClientBase, own: readonly string[]): Promise<string[]> {
  const fences = await client.query<{ t: string; def: string }>(
    `SELECT n.nspname || '.' || c.relname AS t, pg_catalog.pg_get_triggerdef(g.oid) AS def
       FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE g.tgname = $1`,
    [FENCE_TRIGGER],
  );
  const unfenced = new Set(own);
  const others = new Map<string, string>();
  for (const r of fences.rows) {
    const f = fenceOfDefinition(r.def);
    if (f && !unfenced.has(r.t)) others.set(r.t, f.split);
  }
  if (others.size === 0 || own.length === 0) return [];
  // conparentid: a partition's clone of its parent's key is the parent's key again (PostgreSQL 11+).
  const keys = await client.query<SourceForeignKey>(
    `SELECT cn.nspname || '.' || c.relname AS "table", k.conname AS "constraint", fn.nspname || '.' || f.relname AS "references",
            pg_catalog.pg_get_constraintdef(k.oid) AS definition,
            format('ALTER TABLE %I.%I DROP CONSTRAINT %I', cn.nspname, c.relname, k.conname) AS drop
       FROM pg_catalog.pg_constraint k
       JOIN pg_catalog.pg_class c ON c.oid = k.conrelid JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace
       JOIN pg_catalog.pg_class f ON f.oid = k.confrelid JOIN pg_catalog.pg_namespace fn ON fn.oid = f.relnamespace
      WHERE k.contype = 'f' AND k.conparentid = 0
      ORDER BY 1, 2`,
  );
  return crossWaveKeyWarnings(keys.rows, unfenced, others);
}
