import type pg from 'pg';
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
  for (const t of catalog.tables) {
    for (const tr of t.triggers) {
      if (tr.name !== FENCE_TRIGGER || tr.inherited) continue;
      const fence = fenceOfDefinition(tr.definition);
      if (fence) out.push({ table: tableKey(t), ...fence });
    }
  }
  return out.sort((a, b) => a.table.localeCompare(b.table));
}

const FENCE_CALL = new RegExp(`EXECUTE (?:FUNCTION|PROCEDURE) "?${FENCE_SCHEMA}"?\\."?fence"?\\((.*)\\)\\s*$`);

/** Where a fence trigger's rows went and which split moved them, from its definition (pg_get_triggerdef); null for any other trigger. */
export function fenceOfDefinition(definition: string): { database: string; split: string } | null {
  const m = FENCE_CALL.exec(definition);
  const args = m ? literals(m[1]!) : [];
  return args.length >= 2 ? { database: args[0]!, split: args[1]! } : null;
}

/**
 * Every fence trigger of the source, read live: each fenced table with where its rows went
 * and the split that moved them; `clones`: the partitions' copies of a partitioned table's trigger too.
 */
export async function readFencedTables(client: pg.ClientBase, clones = false): Promise<FencedTable[]> {
  const r = await client.query<{ t: string; def: string }>(
    `SELECT n.nspname || '.' || c.relname AS t, pg_catalog.pg_get_triggerdef(g.oid) AS def
       FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE g.tgname = $1 AND ($2 OR g.tgparentid = 0) ORDER BY 1`,
    [FENCE_TRIGGER, clones],
  );
  return r.rows.flatMap((row) => {
    const fence = fenceOfDefinition(row.def);
    return fence ? [{ table: row.t, ...fence }] : [];
  });
}

/** The source's tables each split's fence guards now, read live: split → its fenced tables (`schema.name`). */
export async function liveFences(client: pg.ClientBase): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const f of await readFencedTables(client, true)) out.set(f.split, [...(out.get(f.split) ?? []), f.table]);
  return out;
}
