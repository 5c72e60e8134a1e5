import type pg from 'pg';
import { parseKey } from './model.js';
import { bodyReferences, bodySearchPath } from './body-refs.js';

/** A SQL or PL/pgSQL function or procedure of the source, as its body is read for the tables it names. */
export interface SourceFunction {
  /** `schema.name(identity arguments)`. */
  key: string;
  schema: string;
  body: string;
  config: string[] | null;
}

/**
 * The source's SQL and PL/pgSQL functions and procedures, of every schema but the
 * system's, `skip` and those given (none an extension's): what reads or writes a table
 * is found in their bodies' text (pg_depend records none of it).
 */
export async function readSourceFunctions(client: Pick<pg.ClientBase, 'query'>, skip: readonly string[]): Promise<SourceFunction[]> {
  const r = await client.query<SourceFunction>(
    `SELECT n.nspname || '.' || p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')' AS key,
            n.nspname AS schema, p.prosrc AS body, p.proconfig AS config
       FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
       JOIN pg_catalog.pg_language l ON l.oid = p.prolang
      WHERE l.lanname IN ('sql', 'plpgsql') AND p.prokind IN ('f', 'p')
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND NOT (n.nspname = ANY ($1::text[]))
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
      ORDER BY 1`,
    [skip],
  );
  return r.rows;
}

/**
 * Each function (but those of `own`) whose body reads or writes one of `tables`
 * (`schema.name`), as `function key reads t and writes to u`; with SQL built at run
 * time (EXECUTE), a body that names one of them anywhere counts too. Pure.
 */
export function functionsUsingTables(functions: readonly SourceFunction[], tables: readonly string[], own: ReadonlySet<string> = new Set()): string[] {
  const names = tables.map(parseKey);
  const wanted = new Set(tables);
  const mine = new Set([...own].map(comparable));
  const out: string[] = [];
  for (const f of functions) {
    if (mine.has(comparable(f.key))) continue;
    const configured = f.config?.find((c) => c.startsWith('search_path='))?.slice('search_path='.length).split(',').map((s) => s.trim().replace(/^"(.*)"$/, '$1')) ?? null;
    const refs = bodyReferences(f.body, bodySearchPath(f.schema, configured), [], names);
    const used: [string, string][] = [...refs.writes.map((t) => ['writes to', t] as [string, string]), ...refs.reads.map((t) => ['reads', t] as [string, string])].filter(([, t]) => wanted.has(t));
    // SQL built at run time cannot be read: a body that names a table anywhere (a literal, format's argument) may run it.
    if (refs.dynamic) {
      const seen = new Set(used.map(([, t]) => t));
      for (const [i, t] of tables.entries()) if (!seen.has(t) && namesWord(f.body, names[i]!.name)) used.push(['builds SQL at run time (EXECUTE) naming', t]);
    }
    if (used.length > 0) out.push(`function ${f.key} ${used.map(([how, t]) => `${how} ${t}`).join(' and ')}`);
  }
  return out;
}

/**
 * A function's `schema.name(arguments)` in one form whoever wrote it: the plan's keys are read
 * with every identifier quoted and an empty search_path (`public.f("p" "text", "public"."email")`),
 * a session's with neither (`public.f(p text, email)`). Without quotes, and without `public.`
 * in the arguments (visible there on the default search_path).
 */
function comparable(key: string): string {
  const plain = key.replaceAll('"', '');
  const open = plain.indexOf('(');
  return open === -1 ? plain : plain.slice(0, open + 1) + plain.slice(open + 1).replace(/(?<![A-Za-z0-9_$.])public\./g, '');
}

/** Whether `text` holds `word` as a word of its own, any case (`invoices`, `'invoices'`, `"Invoices"`; not `invoices_archive`). */
function namesWord(text: string, word: string): boolean {
  const escaped = word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?<![A-Za-z0-9_$])${escaped}(?![A-Za-z0-9_$])`, 'i').test(text);
}

/**
 * The plan's warning for functions of schemas outside `source.schemas` that use moved
 * tables (Lemmy's `r.site_aggregates_activity`): the split never reads them, so nothing
 * else names them before retention prune refuses. Null when none.
 */
export function outsideFunctionWarning(uses: readonly string[], schemas: readonly string[]): string | null {
  if (uses.length === 0) return null;
  const outside = [...new Set(uses.map((u) => u.slice('function '.length, u.indexOf('.'))))].sort();
  const one = uses.length === 1;
  return (
    `${one ? 'a function' : `${uses.length} functions`} of ${outside.length === 1 ? 'schema' : 'schemas'} ${outside.join(', ')}, outside source.schemas (${schemas.join(', ')}), ` +
    `${one ? 'uses' : 'use'} moved tables: ${uses.slice(0, 6).map((u) => u.slice('function '.length)).join('; ')}${uses.length > 6 ? `; and ${uses.length - 6} more` : ''}; ` +
    `the split does not see ${one ? 'it' : 'them'}: ${one ? 'it stays' : 'they stay'} in the source, where from the fence on a read gets the backup, which no longer changes, and a write fails at the fence, ` +
    `and retention prune refuses while ${one ? 'it uses' : 'they use'} the tables; add ${outside.join(', ')} to source.schemas for the plan to account for ${one ? 'it' : 'them'}, ` +
    `or change ${one ? 'it' : 'them'} to use the services' databases`
  );
}
