import { query } from '../../harness/servers.js';

/**
 * What a database looks like, as sorted lines: relations with owner and kind, columns,
 * constraints, indexes, triggers, policies, sequence values, schemas, and the database's
 * owner and ACL. `prefix` (a fixture's uniquePrefix()) is replaced by `<p>` so that two
 * splits of the same source compare equal.
 */
export async function catalogSignature(serverUrl: string, database: string, prefix: string): Promise<string[]> {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  const db = url.toString();
  const user = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'`;
  // One connection and one statement for the whole database (pg_database is a shared catalog, readable from any database).
  const rows = await query<{ s: string }>(
    db,
    [
      `SELECT 'database ' || datname || ' owner ' || pg_get_userbyid(datdba) || ' acl ' || coalesce(datacl::text, '-') AS s FROM pg_database WHERE datname = $1`,
      `SELECT 'schema ' || nspname || ' owner ' || pg_get_userbyid(nspowner) AS s FROM pg_namespace n WHERE ${user}`,
      `SELECT 'relation ' || c.oid::regclass::text || ' ' || c.relkind::text || ' owner ' || pg_get_userbyid(c.relowner)
              || ' rls ' || c.relrowsecurity || ' acl ' || coalesce(c.relacl::text, '-') AS s
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${user} AND c.relkind <> 't'`,
      `SELECT 'column ' || c.oid::regclass::text || '.' || quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
              || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
              || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') || ' ' || a.attidentity::text || a.attgenerated::text AS s
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE ${user} AND c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped`,
      `SELECT 'constraint ' || coalesce(r.oid::regclass::text, t.oid::regtype::text) || ' ' || quote_ident(k.conname) || ' ' || pg_get_constraintdef(k.oid) AS s
         FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
         LEFT JOIN pg_class r ON r.oid = k.conrelid LEFT JOIN pg_type t ON t.oid = k.contypid WHERE ${user}`,
      `SELECT 'index ' || pg_get_indexdef(i.indexrelid) AS s FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${user}`,
      `SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' ' || t.tgenabled::text AS s FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${user} AND NOT t.tgisinternal`,
      `SELECT 'policy ' || schemaname || '.' || tablename || ' ' || policyname || ' ' || coalesce(qual, '') || ' ' || coalesce(with_check, '') AS s FROM pg_policies`,
      `SELECT 'sequence ' || schemaname || '.' || sequencename || ' ' || coalesce(last_value::text, 'unused') AS s FROM pg_sequences`,
      `SELECT 'function ' || p.oid::regprocedure::text || ' owner ' || pg_get_userbyid(p.proowner) AS s FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${user}`,
      `SELECT 'extension ' || extname || ' ' || extversion AS s FROM pg_extension`,
    ].join('\n UNION ALL\n'),
    [database],
  );
  return rows
    .map((r) => r.s.replaceAll(prefix, '<p>'))
    .sort();
}

/** The signature of every service database of a split, keyed by service name. */
export async function splitSignature(
  services: Array<{ name: string; serverUrl: string; database: string }>,
  prefix: string,
): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const s of services) out[s.name] = await catalogSignature(s.serverUrl, s.database, prefix);
  return out;
}
