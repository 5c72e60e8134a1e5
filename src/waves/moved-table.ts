/**
 * A table of the source that an earlier split (wave) of the same source moved, or is
 * moving: a later wave never moves, copies or reads it again. Its rows in the source
 * are the earlier split's fenced backup, stale as soon as that split's service writes
 * to its new database.
 * Invariants: `table` is `schema.name` (partitions are listed too, each with its
 * root's facts); `state` is `moving` exactly when the split's fence is not up yet.
 */
export interface MovedTable {
  table: string;
  split: string;
  /** The earlier split's service that owns it (null when only the fence knows the table). */
  service: string | null;
  /** Its new database (null when neither the journal nor the fence says). */
  database: string | null;
  /** ISO time the split's fence went up on it (journal); null when unknown or not fenced yet. */
  movedAt: string | null;
  /** moved: fenced in the source; moving: the split's apply started but has not fenced it yet. */
  state: 'moved' | 'moving';
  /** journal: the split's journal entries say so; fence: only the fence trigger on the table does. */
  via: 'journal' | 'fence' | 'journal+fence';
}

/** `2026-12-03` of an ISO time. */
function day(iso: string): string {
  return iso.slice(0, 10);
}

/** "moved by split billing on 2026-12-03 (billing-service, database cloudphone_billing)": how plan and errors name it. */
export function describeMoved(m: MovedTable): string {
  const where = [m.service, m.database ? `database ${m.database}` : null].filter((x) => x !== null).join(', ');
  const to = where ? ` (${where})` : '';
  if (m.state === 'moving') return `being moved by split ${m.split}${to}: its apply started but has not fenced it yet`;
  if (m.via === 'fence') return `moved by split ${m.split}${to}, as its fence in the source says (the journal does not know that split)`;
  return `moved by split ${m.split}${m.movedAt ? ` on ${day(m.movedAt)}` : ''}${to}`;
}
