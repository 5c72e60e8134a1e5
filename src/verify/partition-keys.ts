import { tableKey, type Constraint } from '../catalog/model.js';

/**
 * A dropped foreign key, as the copies PostgreSQL makes of it are recognised: its
 * columns, and the referenced table with all its partitions (a key to a partitioned
 * table gets one copy per referenced partition, on the referencing table).
 */
export interface DroppedKeyFamily {
  columns: readonly string[];
  /** Keys of the referenced table and of every partition below it. */
  references: readonly string[];
}

/**
 * A foreign key PostgreSQL made by itself from a key of a partitioned table: on each
 * partition of the referencing table, and on the referencing table once per partition
 * of a partitioned referenced table. Their names are generated (and differ between
 * versions and creation orders), so they are compared by definition, not by name.
 */
export const isAutomaticForeignKey = (c: Constraint): boolean => c.type === 'f' && c.inherited;

/** Whether an automatic foreign key of the source is a copy of a key the plan drops. */
export function copiesDroppedKey(c: Constraint, dropped: readonly DroppedKeyFamily[]): boolean {
  if (!isAutomaticForeignKey(c) || !c.references) return false;
  const ref = tableKey(c.references.table);
  return dropped.some((d) => d.references.includes(ref) && d.columns.length === c.columns.length && d.columns.every((x, i) => x === c.columns[i]));
}

/**
 * Differences between the automatic foreign keys of a table on both sides, matched by
 * `definition` (the caller's normal form of a constraint's definition), each counted.
 */
export function automaticForeignKeyDiffs(
  source: readonly Constraint[],
  target: readonly Constraint[],
  definition: (c: Constraint) => string,
): string[] {
  const count = (list: readonly Constraint[]) => {
    const m = new Map<string, number>();
    for (const c of list) if (isAutomaticForeignKey(c)) m.set(definition(c), (m.get(definition(c)) ?? 0) + 1);
    return m;
  };
  const [s, t] = [count(source), count(target)];
  const out: string[] = [];
  for (const def of [...new Set([...s.keys(), ...t.keys()])].sort()) {
    const a = s.get(def) ?? 0;
    const b = t.get(def) ?? 0;
    if (a > b) out.push(`partition foreign key ${def} missing in target${a - b > 1 ? ` (${a - b} times)` : ''}`);
    else if (b > a) out.push(`partition foreign key ${def} unexpected in target${b - a > 1 ? ` (${b - a} times)` : ''}`);
  }
  return out;
}
