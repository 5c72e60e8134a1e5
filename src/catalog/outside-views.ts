import type pg from 'pg';

/** A view (or materialized view) in a schema outside `source.schemas` and the relations of those schemas it reads. */
export interface OutsideView {
  view: string;
  reads: string[];
}

/**
 * Views of schemas the split does not read that read tables or views of the schemas it
 * does (AdventureWorks' short-name schemas `pe`, `sa` over `person`, `sales`): the
 * catalog of the split never sees them, so they stay in the source over whatever moves.
 * Views an extension owns are left out.
 */
export async function readOutsideViews(client: pg.Client, schemas: string[]): Promise<OutsideView[]> {
  const r = await client.query<{ view: string; reads: string[] }>(
    `SELECT vn.nspname || '.' || v.relname AS view, array_agg(DISTINCT tn.nspname || '.' || t.relname ORDER BY tn.nspname || '.' || t.relname) AS reads
       FROM pg_rewrite w
       JOIN pg_class v ON v.oid = w.ev_class AND v.relkind IN ('v', 'm')
       JOIN pg_namespace vn ON vn.oid = v.relnamespace
       JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid AND d.refclassid = 'pg_class'::regclass
       JOIN pg_class t ON t.oid = d.refobjid AND t.oid <> v.oid AND t.relkind IN ('r', 'p', 'v', 'm')
       JOIN pg_namespace tn ON tn.oid = t.relnamespace
      WHERE NOT (vn.nspname = ANY ($1::text[])) AND vn.nspname NOT IN ('pg_catalog', 'information_schema') AND vn.nspname NOT LIKE 'pg\\_%'
        AND tn.nspname = ANY ($1::text[])
        AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass AND e.objid = v.oid AND e.deptype = 'e')
      GROUP BY 1 ORDER BY 1`,
    [schemas],
  );
  return r.rows;
}

/** The plan's warning for the outside views that read what this split moves, or null. */
export function outsideViewWarning(views: readonly OutsideView[], moved: ReadonlySet<string>): string | null {
  const hit = views.map((v) => ({ view: v.view, reads: v.reads.filter((t) => moved.has(t)) })).filter((v) => v.reads.length > 0);
  if (hit.length === 0) return null;
  const schemas = [...new Set(hit.map((v) => v.view.slice(0, v.view.indexOf('.'))))].sort();
  const shown = hit.slice(0, 5).map((v) => `${v.view} (reads ${v.reads.join(', ')})`).join(', ');
  return (
    `${hit.length === 1 ? 'a view' : `${hit.length} views`} in ${schemas.length === 1 ? 'schema' : 'schemas'} ${schemas.join(', ')}, outside source.schemas, ${hit.length === 1 ? 'reads' : 'read'} moved tables: ${shown}${hit.length > 5 ? ` and ${hit.length - 5} more` : ''}; ` +
    `the split does not see ${hit.length === 1 ? 'it' : 'them'}, so ${hit.length === 1 ? 'it stays' : 'they stay'} in the source over the fenced backup (no service database gets ${hit.length === 1 ? 'it' : 'them'}) and retention prune refuses while ${hit.length === 1 ? 'it exists' : 'they exist'}: ` +
    `add ${schemas.join(', ')} to source.schemas to move ${hit.length === 1 ? 'it' : 'them'} with ${hit.length === 1 ? 'its' : 'their'} tables`
  );
}
