import type pg from 'pg';
import { MARKER_SCHEMA } from '../steps/marker.js';
import { TARGET_FENCE_SCHEMA } from '../online/reverse-sql.js';
import { TRACK_SCHEMA } from '../online/denormalize-tracking.js';
import { READ_ONLY_COPY_SCHEMA } from '../plan/read-only-copies.js';

/**
 * What a target database holds besides its tables' rows, as lines that compare: each
 * sequence with its position (`sequence s.n 1000 called`), each view, materialized view,
 * function, procedure, type (an enum with its labels, in order) and schema. Recorded by
 * verify_rowcounts right after the copy; rollback reads it again and refuses on any
 * difference: a sequence that gave out numbers, a view, function or enum label added
 * since, are the service's work as much as a row is. Not the tool's own schemas, not an
 * extension's objects; tables are compared by their rows (src/rollback/target-check.ts).
 */
export async function readObjectSignature(client: pg.ClientBase): Promise<string[]> {
  const tool = [MARKER_SCHEMA, TARGET_FENCE_SCHEMA, TRACK_SCHEMA, READ_ONLY_COPY_SCHEMA].map((s) => `'${s}'`).join(', ');
  const mine = (ns: string) => `${ns} NOT IN ('pg_catalog', 'information_schema', ${tool}) AND ${ns} NOT LIKE 'pg\\_%'`;
  const notExtension = (classid: string, oid: string) =>
    `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${classid}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;
  // Names printed fully qualified, whatever search_path the database sets: the two readings compare.
  await client.query('BEGIN READ ONLY');
  let r: pg.QueryResult<{ line: string }>;
  try {
    await client.query(`SELECT set_config('search_path', 'pg_catalog', true)`);
    r = await client.query<{ line: string }>(
    `SELECT line FROM (
       SELECT 'schema ' || quote_ident(n.nspname) AS line FROM pg_namespace n WHERE ${mine('n.nspname')} AND ${notExtension('pg_namespace', 'n.oid')}
       UNION ALL
       SELECT 'sequence ' || quote_ident(s.schemaname) || '.' || quote_ident(s.sequencename) || ' ' || coalesce(s.last_value::text, 'unused')
         FROM pg_sequences s WHERE ${mine('s.schemaname')}
       UNION ALL
       SELECT CASE c.relkind WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view ' ELSE 'foreign table ' END || c.oid::regclass::text
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('v', 'm', 'f') AND ${mine('n.nspname')} AND ${notExtension('pg_class', 'c.oid')}
       UNION ALL
       SELECT CASE p.prokind WHEN 'p' THEN 'procedure ' WHEN 'a' THEN 'aggregate ' ELSE 'function ' END || p.oid::regprocedure::text
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${mine('n.nspname')} AND ${notExtension('pg_proc', 'p.oid')}
       UNION ALL
       SELECT 'type ' || t.oid::regtype::text || coalesce(' (' || (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) || ')', '')
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typtype IN ('e', 'd', 'r', 'm', 'b') AND ${mine('n.nspname')} AND ${notExtension('pg_type', 't.oid')}
          AND NOT (t.typtype = 'b' AND t.typelem <> 0 AND t.typlen = -1)
     ) o ORDER BY 1`,
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return r.rows.map((row) => row.line);
}

/** The lines of `now` that differ from `then`, each said in words: what was added, dropped, or (a sequence) drawn from. */
export function signatureChanges(then: readonly string[], now: readonly string[]): string[] {
  const seq = /^sequence (.+) (\S+)$/;
  const seqs = (lines: readonly string[]) => new Map(lines.flatMap((l) => (seq.test(l) ? [[seq.exec(l)![1]!, seq.exec(l)![2]!] as const] : [])));
  const [a, b] = [seqs(then), seqs(now)];
  const out: string[] = [];
  for (const [name, was] of a) {
    const is = b.get(name);
    if (is === undefined) out.push(`sequence ${name} was dropped`);
    else if (is !== was) out.push(`sequence ${name} gave out values since the copy (last value ${was} then, ${is} now)`);
  }
  for (const name of b.keys()) if (!a.has(name)) out.push(`sequence ${name} was created since the copy`);
  const rest = (lines: readonly string[]) => new Set(lines.filter((l) => !seq.test(l)));
  const [x, y] = [rest(then), rest(now)];
  for (const l of y) if (!x.has(l)) out.push(`${l}: created or changed since the copy`);
  for (const l of x) if (!y.has(l)) out.push(`${l}: dropped or changed since the copy`);
  return out;
}
