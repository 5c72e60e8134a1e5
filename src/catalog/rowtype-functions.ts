import type pg from 'pg';

/** A function of the source whose signature names a table's row type (`RETURNS SETOF t`, an argument of type `t`). */
export interface RowtypeFunction {
  fn: string;
  table: string;
}

/**
 * Functions (not an extension's) that depend on the row type of a table of the source
 * schemas: PostgreSQL will not drop the table while they exist, and they never move
 * out of the source (a copy goes to the service's database; the source keeps its own).
 */
export async function readRowtypeFunctions(client: pg.Client, schemas: string[]): Promise<RowtypeFunction[]> {
  const r = await client.query<RowtypeFunction>(
    `SELECT DISTINCT p.oid::regprocedure::text AS fn, n.nspname || '.' || c.relname AS table
       FROM pg_depend d
       JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
       JOIN pg_type t ON d.refclassid = 'pg_type'::regclass AND d.refobjid = t.oid AND t.typrelid <> 0
       JOIN pg_class c ON c.oid = t.typrelid AND c.relkind IN ('r', 'p')
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE d.deptype = 'n' AND n.nspname = ANY ($1::text[])
        AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid AND e.deptype = 'e')
      ORDER BY 2, 1`,
    [schemas],
  );
  return r.rows;
}

/**
 * The plan's warning for a split that keeps its moved tables in the source (no
 * `source.retire`): `retention prune` drops them by name, without CASCADE, so a function
 * using one's row type makes it refuse (Hatchet's `list_task_events_tmp`). Null when none.
 */
export function rowtypeFunctionWarning(fns: readonly RowtypeFunction[], moved: ReadonlySet<string>): string | null {
  const hit = fns.filter((f) => moved.has(f.table));
  if (hit.length === 0) return null;
  const shown = hit.slice(0, 5).map((f) => `${f.fn} (uses the row type of ${f.table})`).join(', ');
  const one = hit.length === 1;
  return (
    `${one ? 'a function' : `${hit.length} functions`} of the source ${one ? 'uses' : 'use'} the row type of moved tables: ${shown}${hit.length > 5 ? ` and ${hit.length - 5} more` : ''}; ` +
    `${one ? 'it stays' : 'they stay'} in the source (a service database gets ${one ? 'its own copy' : 'copies'}), and retention prune, which drops the moved tables without CASCADE, refuses while ${one ? 'it exists' : 'they exist'}: ` +
    `drop ${one ? 'it' : 'them'} in the source once nothing calls ${one ? 'it' : 'them'} there, before the backup expires`
  );
}
