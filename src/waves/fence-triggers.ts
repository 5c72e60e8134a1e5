import type { Catalog, FencedTable } from '../catalog/model.js';
import { tableKey } from '../catalog/model.js';
import { FENCE_SCHEMA, FENCE_TRIGGER } from '../steps/fence-source.js';

/** `'a', 'b''c'` → ['a', "b'c"]: the string literals of a trigger's argument list. */
function literals(args: string): string[] {
  return [...args.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1]!.replaceAll("''", "'"));
}

/**
 * The tables a split's fence trigger guards, read from the triggers of a catalog that
 * still holds the tool's objects (before `stripToolObjects`). The trigger's arguments
 * say where the rows went and which split moved them (fence-source.ts): a trigger
 * whose function is not the fence, or whose arguments cannot be read, is not counted.
 */
export function fencesOf(catalog: Catalog): FencedTable[] {
  const out: FencedTable[] = [];
  const fn = new RegExp(`EXECUTE (?:FUNCTION|PROCEDURE) "?${FENCE_SCHEMA}"?\\."?fence"?\\((.*)\\)\\s*$`);
  for (const t of catalog.tables) {
    for (const tr of t.triggers) {
      if (tr.name !== FENCE_TRIGGER || tr.inherited) continue;
      const m = fn.exec(tr.definition);
      const args = m ? literals(m[1]!) : [];
      if (args.length < 2) continue;
      out.push({ table: tableKey(t), database: args[0]!, split: args[1]! });
    }
  }
  return out.sort((a, b) => a.table.localeCompare(b.table));
}
