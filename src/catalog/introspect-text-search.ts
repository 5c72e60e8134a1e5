import type pg from 'pg';
import type { ExtensionFunction } from './introspect-extension-calls.js';
import { rows } from './introspect-util.js';
import type { TextSearchObject } from './model.js';

/** A text search object as read: the catalog's, and the extension it belongs to (unaccent's `unaccent`), or null for the database's own. */
export interface FoundTextSearchObject extends TextSearchObject {
  extension: { oid: number; name: string; schema: string } | null;
}

/** Every text search configuration and dictionary outside pg_catalog and information_schema, in one query. */
export async function readTextSearch(client: pg.ClientBase): Promise<FoundTextSearchObject[]> {
  const ext = (classid: string, oid: string, alias: string) =>
    `LEFT JOIN (pg_depend ${alias}d JOIN pg_extension ${alias} ON ${alias}.oid = ${alias}d.refobjid JOIN pg_namespace ${alias}n ON ${alias}n.oid = ${alias}.extnamespace)
       ON ${alias}d.classid = '${classid}'::regclass AND ${alias}d.objid = ${oid} AND ${alias}d.deptype = 'e' AND ${alias}d.refclassid = 'pg_extension'::regclass`;
  const found = await rows<{
    kind: 'configuration' | 'dictionary';
    schema: string;
    name: string;
    ext_oid: number | null;
    ext_name: string | null;
    ext_schema: string | null;
    ddl: string[];
    dictionaries: string[];
    needs: Array<{ name: string; schema: string }> | null;
    own_base: boolean;
  }>(
    client,
    `SELECT 'dictionary' AS kind, n.nspname::text AS schema, d.dictname::text AS name,
            e.oid::int AS ext_oid, e.extname::text AS ext_name, en.nspname::text AS ext_schema,
            ARRAY[format('CREATE TEXT SEARCH DICTIONARY %I.%I (TEMPLATE = %I.%I%s)', n.nspname, d.dictname, tn.nspname, t.tmplname,
                         CASE WHEN d.dictinitoption IS NOT NULL AND d.dictinitoption <> '' THEN ', ' || d.dictinitoption ELSE '' END)] AS ddl,
            '{}'::text[] AS dictionaries,
            CASE WHEN te.oid IS NOT NULL THEN json_build_array(json_build_object('name', te.extname, 'schema', ten.nspname)) END AS needs,
            (tn.nspname <> 'pg_catalog' AND te.oid IS NULL) AS own_base
       FROM pg_ts_dict d JOIN pg_namespace n ON n.oid = d.dictnamespace
       JOIN pg_ts_template t ON t.oid = d.dicttemplate JOIN pg_namespace tn ON tn.oid = t.tmplnamespace
       ${ext('pg_ts_dict', 'd.oid', 'e')}
       ${ext('pg_ts_template', 't.oid', 'te')}
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
     UNION ALL
     SELECT 'configuration', n.nspname::text, c.cfgname::text, e.oid::int, e.extname::text, en.nspname::text,
            ARRAY[format('CREATE TEXT SEARCH CONFIGURATION %I.%I (PARSER = %I.%I)', n.nspname, c.cfgname, pn.nspname, p.prsname)] ||
            ARRAY(SELECT format('ALTER TEXT SEARCH CONFIGURATION %I.%I ADD MAPPING FOR %s WITH %s', n.nspname, c.cfgname, tt.alias,
                                string_agg(format('%I.%I', dn.nspname, dd.dictname), ', ' ORDER BY m.mapseqno))
                    FROM pg_ts_config_map m JOIN pg_ts_dict dd ON dd.oid = m.mapdict JOIN pg_namespace dn ON dn.oid = dd.dictnamespace
                    JOIN ts_token_type(c.cfgparser) tt ON tt.tokid = m.maptokentype
                   WHERE m.mapcfg = c.oid GROUP BY m.maptokentype, tt.alias ORDER BY m.maptokentype),
            ARRAY(SELECT DISTINCT dn.nspname || '.' || dd.dictname FROM pg_ts_config_map m JOIN pg_ts_dict dd ON dd.oid = m.mapdict
                    JOIN pg_namespace dn ON dn.oid = dd.dictnamespace WHERE m.mapcfg = c.oid AND dn.nspname <> 'pg_catalog' ORDER BY 1),
            (SELECT json_agg(DISTINCT jsonb_build_object('name', de.extname, 'schema', den.nspname))
               FROM pg_ts_config_map m JOIN pg_depend dd ON dd.classid = 'pg_ts_dict'::regclass AND dd.objid = m.mapdict AND dd.deptype = 'e'
               JOIN pg_extension de ON de.oid = dd.refobjid JOIN pg_namespace den ON den.oid = de.extnamespace
              WHERE m.mapcfg = c.oid),
            (pn.nspname <> 'pg_catalog' AND NOT EXISTS (SELECT 1 FROM pg_depend pd WHERE pd.classid = 'pg_ts_parser'::regclass AND pd.objid = p.oid AND pd.deptype = 'e'))
       FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace
       JOIN pg_ts_parser p ON p.oid = c.cfgparser JOIN pg_namespace pn ON pn.oid = p.prsnamespace
       ${ext('pg_ts_config', 'c.oid', 'e')}
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
      ORDER BY 1 DESC, 2, 3`,
  );
  return found.map((o) => ({
    kind: o.kind,
    schema: o.schema,
    name: o.name,
    extension: o.ext_oid !== null ? { oid: o.ext_oid, name: o.ext_name!, schema: o.ext_schema! } : null,
    ddl: o.ddl,
    dictionaries: o.dictionaries,
    needs: o.needs ?? [],
    ownBase: o.own_base,
  }));
}

/** The text search objects of installed extensions, as `extensionSearchObjects` looks them up in bodies. */
export function extensionSearchObjectsOf(objects: readonly FoundTextSearchObject[]): ExtensionFunction[] {
  return objects.flatMap((o) => (o.extension ? [{ extension: o.extension.oid, schema: o.schema, name: o.name }] : []));
}
