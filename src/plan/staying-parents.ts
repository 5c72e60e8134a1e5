import { tableKey, type Catalog } from '../catalog/model.js';

/**
 * Foreign keys from a moved table to a table that stays in the source and keeps being
 * written. The moved table stays behind as its fenced backup, with its foreign key: an
 * `ON DELETE`/`ON UPDATE` action (CASCADE, SET NULL, SET DEFAULT) then runs a statement on
 * the backup at every DELETE (or key UPDATE) of the staying table, and the fence refuses it,
 * even when no backup row is involved (the fence is a statement trigger). Without an action,
 * a row of the staying table that backup rows still reference can no longer be deleted.
 * Either way the staying table is not as writable as before; dropping the foreign key in
 * the source once the split is verified for good (the backup no longer needs it; a rollback
 * would then give the source back without it) gives that back.
 */
export function stayingParentWarnings(catalog: Catalog, moved: ReadonlyMap<string, string>, staying: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const t of catalog.tables) {
    const child = tableKey(t);
    if (!moved.has(child) || t.partitionOf) continue;
    for (const c of t.constraints) {
      if (c.type !== 'f' || !c.references) continue;
      const parent = tableKey(c.references.table);
      if (!staying.has(parent)) continue;
      const actions = [...c.definition.matchAll(/ON (DELETE|UPDATE) (CASCADE|SET NULL|SET DEFAULT)/g)].map((m) => `ON ${m[1]} ${m[2]}`);
      const drop = `ALTER TABLE ${child} DROP CONSTRAINT ${c.name}`;
      out.push(
        actions.length > 0
          ? `${child} (moved to ${moved.get(child)}) keeps its foreign key ${c.name} to ${parent}, which stays in the source, ${actions.join(' ')}: from the fence on, ` +
              `every ${actions.some((a) => a.startsWith('ON DELETE')) ? 'DELETE' : 'key UPDATE'} on ${parent} runs that action on the fenced backup and fails there, ` +
              `even for rows nothing references; once the split is verified and will not be rolled back, drop it in the source (${drop})`
          : `${child} (moved to ${moved.get(child)}) keeps its foreign key ${c.name} to ${parent}, which stays in the source: a row of ${parent} that the fenced backup still references ` +
              `can no longer be deleted there; once the split is verified and will not be rolled back, drop it in the source if that matters (${drop})`,
      );
    }
  }
  return out.sort();
}
