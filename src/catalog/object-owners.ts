import type pg from 'pg';

/**
 * The owner of every object of the source that a split may carry, when it is not a
 * superuser: keyed `relation schema.name`, `function schema.name(identity arguments)`,
 * `type schema.name`, `statistics schema.name`, `schema name`, and `database` for the database itself. A service
 * without a role of its own keeps these owners in its new database (src/plan/owners.ts),
 * as `pg_dump | pg_restore` would: an application role that owned its tables in the
 * source owns them there too, and the tables stay its to read, write and migrate.
 */
export async function readObjectOwners(client: pg.Client): Promise<Record<string, string>> {
  const user = `JOIN pg_roles r ON r.oid = o.owner AND NOT r.rolsuper`;
  const mine = (ns: string) => `${ns} NOT IN ('pg_catalog', 'information_schema') AND ${ns} NOT LIKE 'pg\\_%'`;
  const notExtension = (classid: string, oid: string) =>
    `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${classid}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;
  // A function's key holds its identity arguments as introspect reads them (search_path '' and quote_all_identifiers on:
  // `"x" "text"`, `"public"."email"`), or it matches none.
  await client.query('BEGIN READ ONLY');
  let r: pg.QueryResult<{ key: string; owner: string }>;
  try {
    await client.query(`SELECT set_config('search_path', '', true), set_config('quote_all_identifiers', 'on', true)`);
    r = await client.query<{ key: string; owner: string }>(
    `SELECT o.key, r.rolname AS owner FROM (
       SELECT 'relation ' || n.nspname || '.' || c.relname AS key, c.relowner AS owner
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ${mine('n.nspname')} AND ${notExtension('pg_class', 'c.oid')}
       UNION ALL
       SELECT 'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', p.proowner
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE ${mine('n.nspname')} AND ${notExtension('pg_proc', 'p.oid')}
       UNION ALL
       SELECT 'type ' || n.nspname || '.' || t.typname, t.typowner
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typtype IN ('e', 'd', 'r', 'c') AND (t.typtype <> 'c' OR EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c'))
          AND ${mine('n.nspname')} AND ${notExtension('pg_type', 't.oid')}
       UNION ALL
       SELECT 'statistics ' || n.nspname || '.' || x.stxname, x.stxowner
         FROM pg_statistic_ext x JOIN pg_namespace n ON n.oid = x.stxnamespace WHERE ${mine('n.nspname')}
       UNION ALL
       SELECT 'schema ' || n.nspname, n.nspowner FROM pg_namespace n WHERE ${mine('n.nspname')} AND ${notExtension('pg_namespace', 'n.oid')}
       UNION ALL
       SELECT 'database', datdba FROM pg_database WHERE datname = current_database()
     ) o ${user}
     ORDER BY 1`,
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return Object.fromEntries(r.rows.map((row) => [row.key, row.owner]));
}
