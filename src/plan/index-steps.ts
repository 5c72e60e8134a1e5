import type { Table } from '../catalog/model.js';

/** One index of a table built in a step of its own. */
export interface IndexBuild {
  index: string;
  sql: string;
}

/**
 * Splits the post-data of a plain table (not partitioned, no parent) into its
 * `CREATE [UNIQUE] INDEX` statements, which do not depend on each other and can be
 * built at the same time on separate connections, and the rest (keys attached
 * `USING INDEX`, comments, triggers, policies...), which must follow all of them,
 * in its original order. Any other table: nothing is split off.
 */
export function separateIndexBuilds(t: Table, sql: readonly string[]): { builds: IndexBuild[]; rest: string[] } {
  if (t.kind !== 'r' || t.partitionOf !== null || t.inherits.length > 0) return { builds: [], rest: [...sql] };
  const byDefinition = new Map(t.indexes.map((i) => [i.definition, i.name]));
  const builds: IndexBuild[] = [];
  const rest: string[] = [];
  for (const s of sql) {
    const name = byDefinition.get(s);
    if (name !== undefined && /^CREATE (UNIQUE )?INDEX /.test(s) && !builds.some((b) => b.index === name)) builds.push({ index: name, sql: s });
    else rest.push(s);
  }
  return { builds, rest };
}
