import type { GrantStep } from '../plan/model.js';
import type { StepHandler } from './handler.js';
import { ident, literal } from '../pg/quote.js';
import { MARKER_SCHEMA } from './marker.js';

/** A text[] literal of names: `'{"a","b"}'::text[]`. */
export function textArray(names: string[]): string {
  const body = names.map((n) => `"${n.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`).join(',');
  return `${literal(`{${body}}`)}::text[]`;
}

/**
 * The service role owns its database and every object in it (schemas, relations,
 * routines, types, extended statistics, collations, text search configurations and
 * dictionaries: what pg_restore would give its owner); CONNECT is revoked
 * from PUBLIC so that no other service's role can connect. Also drops the
 * tool's marker schema: the last step that needed it is done.
 */
export function grantSql(database: string, role: string | null, schemas: string[], publications: readonly string[] = []): string[] {
  const sql: string[] = [];
  if (role) {
    const r = literal(role);
    const inSchemas = `n.nspname = ANY (${textArray(schemas)})`;
    const notExtension = (oid: string) => `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = ${oid} AND d.deptype = 'e')`;
    sql.push(
      `ALTER DATABASE ${ident(database)} OWNER TO ${ident(role)}`,
      `DO $cps$
DECLARE r record;
BEGIN
  FOR r IN SELECT format('ALTER SCHEMA %I OWNER TO %I', n.nspname, ${r}) AS s
           FROM pg_namespace n WHERE ${inSchemas} AND n.nspname <> 'public'
  LOOP EXECUTE r.s; END LOOP;
  FOR r IN SELECT format('ALTER %s %I.%I OWNER TO %I',
                         CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                         n.nspname, c.relname, ${r}) AS s
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE ${inSchemas} AND ${notExtension('c.oid')}
             AND (c.relkind IN ('r', 'p', 'v', 'm', 'f')
                  OR (c.relkind = 'S' AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))))
  LOOP EXECUTE r.s; END LOOP;
  FOR r IN SELECT format('ALTER %s %I.%I(%s) OWNER TO %I', CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
                         n.nspname, p.proname,
                         CASE WHEN p.prokind = 'a' AND pg_get_function_identity_arguments(p.oid) = '' THEN '*'
                              ELSE pg_get_function_identity_arguments(p.oid) END, ${r}) AS s
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE ${inSchemas} AND ${notExtension('p.oid')}
  LOOP EXECUTE r.s; END LOOP;
  FOR r IN SELECT format('ALTER %s %s OWNER TO %I', CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.oid::regtype, ${r}) AS s
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE ${inSchemas} AND ${notExtension('t.oid')}
             AND (t.typtype IN ('e', 'd', 'r')
                  OR (t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c')))
  LOOP EXECUTE r.s; END LOOP;
  FOR r IN SELECT format('ALTER %s %I.%I OWNER TO %I', o.kind, n.nspname, o.name, ${r}) AS s
           FROM (SELECT 'STATISTICS' AS kind, x.stxname AS name, x.stxnamespace AS ns, x.oid FROM pg_statistic_ext x
                 UNION ALL SELECT 'COLLATION', c.collname, c.collnamespace, c.oid FROM pg_collation c
                 UNION ALL SELECT 'TEXT SEARCH CONFIGURATION', f.cfgname, f.cfgnamespace, f.oid FROM pg_ts_config f
                 UNION ALL SELECT 'TEXT SEARCH DICTIONARY', d.dictname, d.dictnamespace, d.oid FROM pg_ts_dict d) o
           JOIN pg_namespace n ON n.oid = o.ns
           WHERE ${inSchemas} AND ${notExtension('o.oid')}
  LOOP EXECUTE r.s; END LOOP;
END $cps$`,
      // The source's publications made again here (src/plan/publications.ts), those a role that is not superuser may own.
      ...publications.map((p) => `ALTER PUBLICATION ${ident(p)} OWNER TO ${ident(role)}`),
    );
  }
  sql.push(`REVOKE CONNECT, TEMPORARY ON DATABASE ${ident(database)} FROM PUBLIC`);
  if (role) sql.push(`GRANT CONNECT, TEMPORARY ON DATABASE ${ident(database)} TO ${ident(role)}`);
  sql.push(`DROP SCHEMA IF EXISTS ${ident(MARKER_SCHEMA)} CASCADE`);
  return sql;
}

export const grant: StepHandler<'grant'> = {
  render: (step) => step.sql,
  async run(ctx, step: GrantStep) {
    const client = await ctx.pools.client(step.target.server, step.target.database);
    try {
      for (const s of step.sql) await client.query(s);
    } finally {
      await client.end();
    }
    return {};
  },
};
