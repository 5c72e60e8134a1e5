import type pg from 'pg';
import { MARKER_SCHEMA } from '../steps/marker.js';
import { TARGET_FENCE_SCHEMA } from '../online/reverse-sql.js';
import { TRACK_SCHEMA } from '../online/denormalize-tracking.js';
import { READ_ONLY_COPY_SCHEMA } from '../plan/read-only-copies.js';

/** Between an object and what it is now (`sequence s.n<TAB>1000`): a line of the signature. */
const SEP = '\t';

/** A line of every signature that holds comments; one recorded before has none, and its comparison leaves them out. */
const SIGNATURE_V2 = '~ comments';

/**
 * What a target database holds besides its tables' rows, as `object<TAB>state` lines that
 * compare: each sequence with its position, each view, materialized view, function,
 * procedure, type (an enum with its labels, in order) and schema, each table's
 * columns (type, nullability, default), constraints, indexes and triggers, and the
 * comments on relations, columns, functions and types. Recorded by
 * verify_rowcounts right after the copy; rollback reads it again and refuses on any
 * difference: a sequence that gave out numbers, an enum label, an index or a column a
 * service's migration added, are its work as much as a row is. Not the tool's own
 * schemas or triggers, not an extension's objects; rows are compared apart
 * (src/rollback/target-check.ts).
 */
export async function readObjectSignature(client: pg.ClientBase): Promise<string[]> {
  const tool = [MARKER_SCHEMA, TARGET_FENCE_SCHEMA, TRACK_SCHEMA, READ_ONLY_COPY_SCHEMA].map((s) => `'${s}'`).join(', ');
  const mine = (ns: string) => `${ns} NOT IN ('pg_catalog', 'information_schema', ${tool}) AND ${ns} NOT LIKE 'pg\\_%'`;
  const notExtension = (classid: string, oid: string) =>
    `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${classid}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;
  const line = (object: string, state: string) => `${object} || E'\\t' || ${state}`;
  // Names printed fully qualified, whatever search_path the database sets: the two readings compare.
  await client.query('BEGIN READ ONLY');
  let r: pg.QueryResult<{ line: string }>;
  try {
    await client.query(`SELECT set_config('search_path', 'pg_catalog', true)`);
    r = await client.query<{ line: string }>(
      `SELECT line FROM (
         SELECT ${line(`'schema ' || quote_ident(n.nspname)`, `''`)} AS line FROM pg_namespace n WHERE ${mine('n.nspname')} AND ${notExtension('pg_namespace', 'n.oid')}
         UNION ALL
         SELECT ${line(`'sequence ' || quote_ident(s.schemaname) || '.' || quote_ident(s.sequencename)`, `coalesce(s.last_value::text, 'unused')`)}
           FROM pg_sequences s WHERE ${mine('s.schemaname')}
         UNION ALL
         SELECT ${line(`CASE c.relkind WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view ' ELSE 'foreign table ' END || c.oid::regclass::text`, `md5(coalesce(pg_get_viewdef(c.oid), ''))`)}
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('v', 'm', 'f') AND ${mine('n.nspname')} AND ${notExtension('pg_class', 'c.oid')}
         UNION ALL
         SELECT ${line(`CASE p.prokind WHEN 'p' THEN 'procedure ' WHEN 'a' THEN 'aggregate ' ELSE 'function ' END || p.oid::regprocedure::text`, `md5(coalesce(p.prosrc, ''))`)}
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${mine('n.nspname')} AND ${notExtension('pg_proc', 'p.oid')}
         UNION ALL
         SELECT ${line(`'type ' || t.oid::regtype::text`, `coalesce('(' || (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) || ')', '')`)}
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
          WHERE t.typtype IN ('e', 'd', 'r', 'm', 'b') AND ${mine('n.nspname')} AND ${notExtension('pg_type', 't.oid')}
            AND NOT (t.typtype = 'b' AND t.typelem <> 0 AND t.typlen = -1)
         UNION ALL
         SELECT ${line(`'column ' || c.oid::regclass::text || '.' || quote_ident(a.attname)`, `format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END || coalesce(' DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid), '')`)}
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
          WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND ${mine('n.nspname')}
         UNION ALL
         SELECT ${line(`'constraint ' || quote_ident(co.conname) || ' on ' || co.conrelid::regclass::text`, `pg_get_constraintdef(co.oid)`)}
           FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace WHERE co.conrelid <> 0 AND ${mine('n.nspname')}
         UNION ALL
         SELECT ${line(`'index ' || i.indexrelid::regclass::text`, `pg_get_indexdef(i.indexrelid)`)}
           FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${mine('n.nspname')}
         UNION ALL
         SELECT ${line(`'trigger ' || quote_ident(tg.tgname) || ' on ' || tg.tgrelid::regclass::text`, `pg_get_triggerdef(tg.oid) || ' ' || tg.tgenabled::text`)}
           FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE NOT tg.tgisinternal AND tg.tgname NOT LIKE 'cloudphone\\_split\\_%' AND ${mine('n.nspname')}
         UNION ALL
         -- Comments: a service's note on a table, a column, a function or a type is its work too (not the tool's own).
         SELECT ${line(`'comment on ' || CASE d.classoid WHEN 'pg_class'::regclass THEN 'relation ' || d.objoid::regclass::text || coalesce('.' || quote_ident(a.attname), '')
                                               WHEN 'pg_proc'::regclass THEN 'function ' || d.objoid::regprocedure::text
                                               ELSE 'type ' || d.objoid::regtype::text END`, `md5(d.description)`)}
           FROM pg_description d
           LEFT JOIN pg_class c ON d.classoid = 'pg_class'::regclass AND c.oid = d.objoid
           LEFT JOIN pg_attribute a ON d.classoid = 'pg_class'::regclass AND a.attrelid = d.objoid AND a.attnum = d.objsubid AND d.objsubid > 0
           LEFT JOIN pg_proc p ON d.classoid = 'pg_proc'::regclass AND p.oid = d.objoid
           LEFT JOIN pg_type t ON d.classoid = 'pg_type'::regclass AND t.oid = d.objoid
           JOIN pg_namespace n ON n.oid = coalesce(c.relnamespace, p.pronamespace, t.typnamespace)
          WHERE d.classoid IN ('pg_class'::regclass, 'pg_proc'::regclass, 'pg_type'::regclass) AND ${mine('n.nspname')}
            AND d.description NOT LIKE 'cloudphone-split: %'
         UNION ALL
         SELECT ${line(`'${SIGNATURE_V2}'`, `''`)}
       ) o ORDER BY 1`,
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return r.rows.map((row) => row.line);
}

/** What differs between two signatures, each said in words: made, dropped, changed, or (a sequence) drawn from. */
export function signatureChanges(then: readonly string[], now: readonly string[]): string[] {
  const v2 = (lines: readonly string[]) => lines.some((l) => l.startsWith(`${SIGNATURE_V2}${SEP}`) || l === SIGNATURE_V2);
  if (!v2(then)) now = now.filter((l) => !l.startsWith('comment on ') && !l.startsWith(SIGNATURE_V2));
  const split = (lines: readonly string[]) =>
    new Map(lines.map((l) => (l.includes(SEP) ? [l.slice(0, l.indexOf(SEP)), l.slice(l.indexOf(SEP) + 1)] : [l, ''])));
  const [a, b] = [split(then), split(now)];
  const out: string[] = [];
  for (const [object, was] of a) {
    const is = b.get(object);
    if (is === undefined) out.push(`${object} was dropped since the copy`);
    else if (is !== was) {
      out.push(
        object.startsWith('sequence ')
          ? `${object} gave out values since the copy (last value ${was} then, ${is} now)`
          : `${object} was changed since the copy${object.startsWith('type ') || object.startsWith('column ') || object.startsWith('constraint ') || object.startsWith('index ') ? ` (${was || 'nothing'} then, ${is || 'nothing'} now)` : ''}`,
      );
    }
  }
  for (const object of b.keys()) if (!a.has(object)) out.push(`${object} was created since the copy`);
  return out;
}
