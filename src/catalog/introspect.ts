import { extensionCalls, extensionSearchObjects, readExtensionFunctions, routineCalls, routinesCalledOutside } from './introspect-extension-calls.js';
import { extensionSearchObjectsOf, readTextSearch } from './introspect-text-search.js';
import type pg from 'pg';
import type { Catalog, Extension, FunctionDef, Namespace, Publication, Sequence, Table, TypeDef, View } from './model.js';
import { functionKey, tableKey } from './model.js';
import { BadInputError } from '../errors.js';
import { literal as sqlLiteral, qname } from '../pg/quote.js';
import { keyOf, rows, sortBy, sortedUnique } from './introspect-util.js';
import { readColumns, readRelations, type RelationRow } from './introspect-relations.js';
import { readConstraints, readIndexes, readPolicies, readRules, readStatistics, readTriggers, type IndexRow } from './introspect-parts.js';
import { schemaRoutines, walkDependencies, type DepEdge } from './introspect-deps.js';
import { withoutSecretSettings } from '../secrets/setting-names.js';
import { readExtensions, readFunctions, readSequences } from './introspect-objects.js';
import { readTypes } from './introspect-types.js';
import { readTypeFlags } from './introspect-type-flags.js';
import { buildTable, groupBy, type TableParts } from './introspect-tables.js';
import { DependencyGraph } from './introspect-graph.js';
import { readDefaultPrivileges, readNamespaces, readPrivileges } from './introspect-privileges.js';
import { bodyReferences, bodySearchPath, bodyTypes } from './body-refs.js';

export interface IntrospectOptions {
  /**
   * The caller already opened a transaction (for instance REPEATABLE READ with an
   * exported snapshot): read inside it instead of opening one. Settings are made
   * with set_config(..., true) and end with that transaction.
   */
  inTransaction?: boolean;
}

/** Oldest server whose catalogs this reader understands. */
export const MIN_SERVER_VERSION = 130000;

/**
 * Reads the catalog of the given schemas in one REPEATABLE READ READ ONLY
 * transaction, with search_path='' and quote_all_identifiers=on so that every
 * pg_get_*def is schema-qualified and fully quoted. A fixed number of bulk
 * queries whatever the number of tables (plus one per level of type nesting).
 */
export async function introspect(client: pg.ClientBase, schemas: string[], opts: IntrospectOptions = {}): Promise<Catalog> {
  const own = !opts.inTransaction;
  if (own) await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    await client.query(`SELECT set_config('search_path', '', true), set_config('quote_all_identifiers', 'on', true)`);
    const catalog = await read(client, sortedUnique(schemas));
    if (own) await client.query('COMMIT');
    return catalog;
  } catch (err) {
    if (own) await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

interface MetaRow {
  settings: string[] | null;
  role_settings: Array<{ role: string; settings: string[] }> | null;
  version: string;
  database: string;
  encoding: string;
  collate: string;
  ctype: string;
  provider: string;
  icu: string | null;
}

async function readMeta(client: pg.ClientBase): Promise<{ num: number; meta: MetaRow }> {
  const [v] = await rows<{ num: number }>(client, `SELECT current_setting('server_version_num')::int AS num`);
  const num = v!.num;
  if (num < MIN_SERVER_VERSION) {
    throw new BadInputError(
      `the source server runs PostgreSQL ${Math.floor(num / 10000)}; cloudphone-split needs PostgreSQL 13 or later`,
      'upgrade the source server, or split with pg_dump by hand',
    );
  }
  const provider = num >= 150000 ? 'd.datlocprovider::text' : `'c'`;
  const icu = num >= 170000 ? 'd.datlocale' : num >= 150000 ? 'd.daticulocale' : 'NULL::text';
  const [meta] = await rows<MetaRow>(
    client,
    `SELECT current_setting('server_version') AS version, current_database()::text AS database,
        pg_encoding_to_char(d.encoding)::text AS encoding, d.datcollate::text AS collate, d.datctype::text AS ctype,
        ${provider} AS provider, ${icu}::text AS icu,
        (SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0) AS settings,
        (SELECT json_agg(json_build_object('role', r.rolname, 'settings', s.setconfig) ORDER BY r.rolname)
           FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE s.setdatabase = d.oid) AS role_settings
     FROM pg_database d WHERE d.datname = current_database()`,
  );
  return { num, meta: meta! };
}

async function read(client: pg.ClientBase, schemas: string[]): Promise<Catalog> {
  const { num: version, meta } = await readMeta(client);
  const relations = await readRelations(client, schemas);
  const relById = new Map(relations.map((r) => [r.oid, r]));
  const tableRels = relations.filter((r) => r.relkind === 'r' || r.relkind === 'p');
  const viewRels = relations.filter((r) => r.relkind === 'v' || r.relkind === 'm');
  const tableOids = tableRels.map((r) => r.oid);

  const columns = await readColumns(client, tableOids, version);
  const constraints = await readConstraints(client, tableOids, version);
  // A materialized view's indexes too (a unique one is what REFRESH … CONCURRENTLY needs), in the same query.
  const indexes = await readIndexes(client, [...tableOids, ...viewRels.filter((r) => r.relkind === 'm').map((r) => r.oid)]);
  const triggers = await readTriggers(client, tableOids);
  const policies = await readPolicies(client, tableOids);
  const rules = await readRules(client, tableOids);
  const statistics = await readStatistics(client, tableOids);
  const seeds = await schemaRoutines(client, schemas);
  const edges = await walkDependencies(client, [...tableOids, ...viewRels.map((r) => r.oid)], version, seeds);

  const oidsOf = (kind: DepEdge['kind']) => [...new Set(edges.filter((e) => e.kind === kind).map((e) => e.oid))];
  const functionInfos = await readFunctions(client, [...new Set([...seeds.functions, ...oidsOf('function')])]);
  // Functions of other schemas that bodies call (`auth.jwt()`), and what those need in turn.
  const asked = new Set<number>();
  for (;;) {
    const called = (await routinesCalledOutside(client, functionInfos, bodySearchPath)).filter((oid) => !asked.has(oid));
    if (called.length === 0) break;
    called.forEach((oid) => asked.add(oid));
    edges.push(...(await walkDependencies(client, [], version, { types: [], functions: called })));
    const fresh = [...new Set([...called, ...oidsOf('function')])].filter((oid) => !functionInfos.has(oid));
    for (const [oid, info] of await readFunctions(client, fresh)) functionInfos.set(oid, info);
  }
  const seqInfos = await readSequences(client, schemas, oidsOf('sequence'), tableOids);
  const types = await readTypes(client, [...new Set([...seeds.types, ...oidsOf('type')])], version);
  const functions = new Map([...functionInfos].map(([oid, f]) => [oid, f.def]));
  // Extensions whose functions a body calls: pg_depend does not record them.
  const extensionFunctions = await readExtensionFunctions(client);
  const searchAll = await readTextSearch(client);
  const extensionSearch = extensionSearchObjectsOf(searchAll);
  const bodyExtensions = new Map<number, number[]>();
  for (const [oid, { def, src, path }] of functionInfos) {
    if (src === null) continue;
    const searchPath = bodySearchPath(def.schema, path);
    const calls = [...new Set([...extensionCalls(src, searchPath, extensionFunctions), ...extensionSearchObjects(src, searchPath, extensionSearch)])];
    if (calls.length > 0) bodyExtensions.set(oid, calls);
  }
  const extensions = await readExtensions(client, [...new Set([...oidsOf('extension'), ...[...bodyExtensions.values()].flat()])]);
  const typeFlags = await readTypeFlags(client, [...new Set(columns.map((c) => c.typid))], version);
  const outside = await readOutsideRelations(client, oidsOf('relation').filter((o) => !relById.has(o)));
  const [lo] = await rows<{ n: number }>(client, `SELECT count(*)::int AS n FROM pg_catalog.pg_largeobject_metadata`);
  const foreignTables = await rows<{ schema: string; name: string; server: string }>(
    client,
    `SELECT n.nspname::text AS schema, c.relname::text AS name, s.srvname::text AS server
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_catalog.pg_foreign_table f ON f.ftrelid = c.oid JOIN pg_catalog.pg_foreign_server s ON s.oid = f.ftserver
      WHERE c.relkind = 'f' AND n.nspname = ANY($1::text[]) ORDER BY 1, 2`,
    [schemas],
  );
  const installedExtensions = await rows<{ name: string; schema: string }>(
    client,
    `SELECT e.extname::text AS name, n.nspname::text AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
      WHERE e.extname <> 'plpgsql' ORDER BY 1`,
  );
  const publications = await readPublications(client, schemas, version);
  const collations = await readCollations(client, version);
  const textSearch = searchAll.filter((o) => o.extension === null).map(({ extension: _, ...o }) => o);

  const seqByOid = new Map(seqInfos.map((s) => [s.oid, s.sequence]));
  const identity = new Map<number, Map<string, string>>();
  const ownedSeqs = new Map<number, string[]>();
  for (const s of seqInfos) {
    if (!s.owner || !s.sequence.ownedBy) continue;
    const key = tableKey(s.sequence);
    ownedSeqs.set(s.owner.relid, [...(ownedSeqs.get(s.owner.relid) ?? []), key]);
    if (s.sequence.identity) {
      const m = identity.get(s.owner.relid) ?? new Map<string, string>();
      m.set(s.sequence.ownedBy.column, key);
      identity.set(s.owner.relid, m);
    }
  }

  const graph = new DependencyGraph(edges, {
    type: (oid) => (types.has(oid) ? tableKey(types.get(oid)!) : null),
    function: (oid) => (functions.has(oid) ? functionKey(functions.get(oid)!) : null),
    sequence: (oid) => (seqByOid.has(oid) ? tableKey(seqByOid.get(oid)!) : null),
    extension: (oid) => extensions.get(oid)?.name ?? null,
    relation: (oid) => {
      const r = relById.get(oid) ?? outside.get(oid);
      return r ? keyOf(r.schema, r.name) : null;
    },
  });

  const parts: TableParts = {
    columns: groupBy(columns),
    constraints: groupBy(constraints),
    indexes: groupBy(indexes),
    triggers: groupBy(triggers),
    policies: groupBy(policies),
    rules: groupBy(rules),
    statistics: groupBy(statistics),
    typeFlags,
    identity,
  };
  const notNullNames = new Map<number, Map<string, string>>();
  for (const c of constraints) {
    if (c.contype !== 'n' || !c.columns?.[0]) continue;
    const m = notNullNames.get(c.relid) ?? new Map<string, string>();
    m.set(c.columns[0], c.name);
    notNullNames.set(c.relid, m);
  }
  const relByKey = new Map(relations.map((r) => [keyOf(r.schema, r.name), r.oid]));
  const tables: Table[] = tableRels.map((rel) => {
    const parent = rel.parents?.[0];
    const parentOid = parent ? (relByKey.get(tableKey(parent)) ?? null) : null;
    const t = buildTable(rel, parts, notNullNames, parentOid);
    const deps = graph.closure('rel', rel.oid);
    t.dependsOn = {
      types: deps.types,
      functions: deps.functions,
      sequences: sortedUnique([...deps.sequences, ...(ownedSeqs.get(rel.oid) ?? [])]),
      extensions: deps.extensions,
    };
    if (deps.uncarried.length > 0) t.uncarried = deps.uncarried;
    return t;
  });

  const matviews = new Set(viewRels.filter((r) => r.relkind === 'm').map((r) => r.oid));
  const viewIndexes = groupBy(indexes.filter((i) => matviews.has(i.relid)));
  const viewDefaults = groupBy(
    await rows<{ relid: number; column: string; default: string }>(
      client,
      `SELECT d.adrelid AS relid, a.attname::text AS column, pg_get_expr(d.adbin, d.adrelid) AS default
         FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
        WHERE d.adrelid = ANY($1::oid[]) ORDER BY a.attnum`,
      [viewRels.filter((r) => r.relkind === 'v').map((r) => r.oid)],
    ),
  );
  const views: View[] = viewRels.map((rel) => {
    const view = toView(rel, graph, viewIndexes.get(rel.oid) ?? []);
    const defaults = viewDefaults.get(rel.oid);
    if (defaults) view.columnDefaults = defaults.map((d) => ({ column: d.column, default: d.default }));
    return view;
  });
  const sequenceNames = seqInfos.map((x) => x.sequence);
  const typeNames = [...types.values()].map((t) => ({ schema: t.schema, name: t.name }));
  const routinesByName = new Map<string, string[]>();
  for (const { def } of functionInfos.values()) {
    const name = `${def.schema}.${def.name}`;
    routinesByName.set(name, [...(routinesByName.get(name) ?? []), functionKey(def)]);
  }
  for (const [oid, { def, src, path }] of functionInfos) {
    if (src === null) continue;
    const searchPath = bodySearchPath(def.schema, path);
    const { reads, dynamic, outside, ...refs } = bodyReferences(src, searchPath, sequenceNames, tables, schemas);
    const calls = (bodyExtensions.get(oid) ?? []).map((e) => extensions.get(e)!.name);
    const routines = routineCalls(src, searchPath, routinesByName).filter((k) => k !== functionKey(def));
    const named = bodyTypes(src, searchPath, typeNames);
    if (refs.sequences.length + refs.writes.length + reads.length + outside.length + calls.length + routines.length + named.length > 0 || dynamic) {
      def.body = {
        ...refs,
        ...(dynamic ? { dynamic } : {}),
        ...(reads.length > 0 ? { reads } : {}),
        ...(outside.length > 0 ? { outside } : {}),
        ...(routines.length > 0 ? { calls: routines } : {}),
        ...(named.length > 0 ? { types: named } : {}),
        ...(calls.length > 0 ? { extensions: calls } : {}),
      };
    }
  }
  // Every schema something read lives in: partitions in other schemas than their table's too.
  const allSchemas = sortedUnique([
    ...schemas,
    ...tables.map((t) => t.schema),
    ...views.map((v) => v.schema),
    ...[...seqByOid.values()].map((q) => q.schema),
    ...[...types.values()].map((t) => t.schema),
    ...[...functions.values()].map((f) => f.schema),
  ]);
  const privileges = await readPrivileges(client, {
    relations: [...relations.map((r) => r.oid), ...seqInfos.map((x) => x.oid)],
    functions: [...functions.keys()],
    types: [...types.keys()],
    schemas: allSchemas,
  });
  const attach = (obj: { privileges?: unknown }, key: string) => {
    const p = privileges.get(key);
    if (p) obj.privileges = p;
  };
  for (const [i, rel] of tableRels.entries()) attach(tables[i]!, `rel:${rel.oid}`);
  for (const [i, rel] of viewRels.entries()) attach(views[i]!, `rel:${rel.oid}`);
  for (const x of seqInfos) attach(x.sequence, `rel:${x.oid}`);
  for (const [oid, f] of functions) attach(f, `function:${oid}`);
  for (const [oid, t] of types) attach(t, `type:${oid}`);
  const namespaces = (await readNamespaces(client, allSchemas)).map((n) => {
    const ns: Namespace = { name: n.name, comment: n.comment };
    attach(ns, `schema:${n.oid}`);
    return ns;
  });
  const defaultPrivileges = await readDefaultPrivileges(client, allSchemas);
  const typeDefs: TypeDef[] = [...types].map(([oid, t]) => withDeps(t, graph.direct('type', oid)));
  const functionDefs: FunctionDef[] = [...functions].map(([oid, f]) => {
    const direct = graph.direct('function', oid);
    if (direct.relations.length > 0) f.rowTypes = direct.relations;
    return withDeps(f, direct);
  });
  const sequences: Sequence[] = [...seqByOid.values()];
  const extensionList: Extension[] = [...extensions.values()];

  return {
    formatVersion: 1,
    serverVersionNum: version,
    serverVersion: meta.version,
    database: meta.database,
    encoding: meta.encoding,
    collate: meta.collate,
    ctype: meta.ctype,
    localeProvider: meta.provider,
    icuLocale: meta.icu,
    ...settingsOf(meta.settings, meta.role_settings),
    schemas,
    tables: sortBy(tables, tableKey),
    views: sortBy(views, tableKey),
    sequences: sortBy(sequences, tableKey),
    types: sortBy(typeDefs, tableKey),
    functions: sortBy(functionDefs, functionKey),
    extensions: sortBy(extensionList, (e) => e.name),
    namespaces,
    ...(lo && lo.n > 0 ? { largeObjects: lo.n } : {}),
    ...(foreignTables.length > 0 ? { foreignTables } : {}),
    ...(installedExtensions.length > 0 ? { installedExtensions } : {}),
    ...(publications.length > 0 ? { publications } : {}),
    ...(collations.length > 0 ? { collations } : {}),
    ...(textSearch.length > 0 ? { textSearch } : {}),
    ...(defaultPrivileges.length > 0 ? { defaultPrivileges } : {}),
  };
}

/**
 * The database's settings and its roles' settings in it, less those holding a secret
 * (isSecretSetting): only their names are kept, so that the plan can say what it leaves out.
 */
function settingsOf(settings: string[] | null, roleSettings: Array<{ role: string; settings: string[] }> | null): Pick<Catalog, 'settings' | 'roleSettings' | 'secretSettings'> {
  const own = withoutSecretSettings(settings ?? []);
  const roles = (roleSettings ?? []).map((r) => ({ role: r.role, ...withoutSecretSettings(r.settings) }));
  const secret = [...own.secret, ...roles.flatMap((r) => r.secret.map((n) => `${n} (role ${r.role})`))];
  const kept = roles.filter((r) => r.kept.length > 0).map((r) => ({ role: r.role, settings: r.kept }));
  return {
    ...(own.kept.length ? { settings: own.kept } : {}),
    ...(kept.length ? { roleSettings: kept } : {}),
    ...(secret.length ? { secretSettings: secret } : {}),
  };
}

function withDeps<T extends TypeDef | FunctionDef>(
  obj: T,
  deps: { types: string[]; functions: string[]; extensions: string[] },
): T {
  obj.dependsOn = sortedUnique([...deps.types, ...deps.functions]);
  if (deps.extensions.length > 0) obj.extensions = deps.extensions;
  return obj;
}

function toView(rel: RelationRow, graph: DependencyGraph, indexes: readonly IndexRow[]): View {
  const direct = graph.direct('rel', rel.oid);
  const deps = graph.closure('rel', rel.oid);
  const view: View = {
    schema: rel.schema,
    name: rel.name,
    materialized: rel.relkind === 'm',
    definition: rel.viewdef ?? '',
    dependsOn: direct.relations.filter((k) => k !== keyOf(rel.schema, rel.name)),
    comment: rel.comment,
  };
  if (rel.reloptions.length > 0) view.options = rel.reloptions;
  if (rel.relkind === 'm' && !rel.populated) view.populated = false;
  if (indexes.length > 0) {
    view.indexes = [...indexes]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((i) => ({ name: i.name, definition: i.def, comment: i.comment, ...(i.clustered ? { clustered: true } : {}) }));
  }
  if (deps.types.length + deps.functions.length + deps.extensions.length > 0) {
    view.uses = { types: deps.types, functions: deps.functions, extensions: deps.extensions };
  }
  if (deps.uncarried.length > 0) view.uncarried = deps.uncarried;
  return view;
}

/** Names of relations outside the selected schemas that a view reads. */
async function readOutsideRelations(client: pg.ClientBase, oids: number[]): Promise<Map<number, { schema: string; name: string }>> {
  const out = new Map<number, { schema: string; name: string }>();
  if (oids.length === 0) return out;
  const found = await rows<{ oid: number; schema: string; name: string }>(
    client,
    `SELECT c.oid, n.nspname::text AS schema, c.relname::text AS name
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY($1::oid[])`,
    [oids],
  );
  for (const r of found) out.set(r.oid, { schema: r.schema, name: r.name });
  return out;
}

/**
 * The publications that publish tables of `schemas` (FOR TABLE, FOR TABLES IN SCHEMA and
 * FOR ALL TABLES alike, as pg_publication_tables lists them), less those a split made for
 * online mode (`cps_<digest>_…`, src/online/replication-sql.ts), with what makes them
 * again: the tables they name with row filter and column list, the schemas they name, the
 * operations they publish and publish_via_partition_root.
 */
async function readPublications(client: pg.ClientBase, schemas: string[], version: number): Promise<Publication[]> {
  const found = await rows<{ oid: number; name: string; all_tables: boolean; schemas: string[]; names: string[]; publish: string[]; via_root: boolean }>(
    client,
    `SELECT p.oid::int AS oid, p.pubname::text AS name, p.puballtables AS all_tables,
            array_agg(t.schemaname::text ORDER BY t.schemaname, t.tablename) AS schemas,
            array_agg(t.tablename::text ORDER BY t.schemaname, t.tablename) AS names,
            array_remove(ARRAY[CASE WHEN p.pubinsert THEN 'insert' END, CASE WHEN p.pubupdate THEN 'update' END,
                               CASE WHEN p.pubdelete THEN 'delete' END, CASE WHEN p.pubtruncate THEN 'truncate' END], NULL) AS publish,
            p.pubviaroot AS via_root
       FROM pg_publication p JOIN pg_publication_tables t ON t.pubname = p.pubname
      WHERE t.schemaname = ANY($1::text[]) AND p.pubname !~ '^cps_[0-9a-f]{8}_'
      GROUP BY p.oid, p.pubname, p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, p.pubviaroot ORDER BY 2`,
    [schemas],
  );
  if (found.length === 0) return [];
  const oids = found.map((r) => r.oid);
  const since15 = version >= 150000;
  const members = await rows<{ pub: number; schema: string; name: string; qual: string | null; columns: string[] | null }>(
    client,
    `SELECT pr.prpubid::int AS pub, n.nspname::text AS schema, c.relname::text AS name,
            ${since15 ? 'pg_get_expr(pr.prqual, pr.prrelid)' : 'NULL::text'} AS qual,
            ${
              since15
                ? `(SELECT array_agg(a.attname::text ORDER BY k.i) FROM unnest(pr.prattrs::int2[]) WITH ORDINALITY AS k(attnum, i)
                     JOIN pg_attribute a ON a.attrelid = pr.prrelid AND a.attnum = k.attnum)`
                : 'NULL::text[]'
            } AS columns
       FROM pg_publication_rel pr JOIN pg_class c ON c.oid = pr.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE pr.prpubid = ANY($1::oid[]) ORDER BY 2, 3`,
    [oids],
  );
  const named = since15
    ? await rows<{ pub: number; schema: string }>(
        client,
        `SELECT pn.pnpubid::int AS pub, n.nspname::text AS schema FROM pg_publication_namespace pn JOIN pg_namespace n ON n.oid = pn.pnnspid
          WHERE pn.pnpubid = ANY($1::oid[]) ORDER BY 2`,
        [oids],
      )
    : [];
  return found.map((r) => ({
    name: r.name,
    allTables: r.all_tables,
    tables: r.names.map((n, i) => keyOf(r.schemas[i]!, n)),
    members: members
      .filter((m) => m.pub === r.oid)
      .map((m) => ({ table: keyOf(m.schema, m.name), ...(m.qual ? { where: m.qual } : {}), ...(m.columns ? { columns: m.columns } : {}) })),
    schemas: named.filter((n) => n.pub === r.oid).map((n) => n.schema),
    publish: r.publish,
    viaRoot: r.via_root,
  }));
}

/**
 * The collations the database's users made (ICU, libc or builtin), each with the CREATE
 * COLLATION that makes it again on any server version that knows its provider.
 */
async function readCollations(client: pg.ClientBase, version: number): Promise<Array<{ schema: string; name: string; ddl: string; comment?: string }>> {
  const locale = version >= 170000 ? 'c.colllocale' : version >= 150000 ? 'c.colliculocale' : `CASE WHEN c.collprovider = 'i' THEN c.collcollate END`;
  const found = await rows<{ schema: string; name: string; provider: string; deterministic: boolean; collate: string | null; ctype: string | null; locale: string | null; rules: string | null; comment: string | null }>(
    client,
    `SELECT n.nspname::text AS schema, c.collname::text AS name, c.collprovider::text AS provider, c.collisdeterministic AS deterministic,
            c.collcollate::text AS collate, c.collctype::text AS ctype, ${locale}::text AS locale,
            ${version >= 160000 ? 'c.collicurules' : 'NULL'}::text AS rules, obj_description(c.oid, 'pg_collation') AS comment
       FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND c.collprovider IN ('c', 'i', 'b')
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_collation'::regclass AND d.objid = c.oid AND d.deptype = 'e')
      ORDER BY 1, 2`,
  );
  return found.map((c) => {
    const options =
      c.provider === 'i'
        ? [`provider = icu`, `locale = ${sqlLiteral(c.locale ?? '')}`, ...(c.rules ? [`rules = ${sqlLiteral(c.rules)}`] : [])]
        : c.provider === 'b'
          ? [`provider = builtin`, `locale = ${sqlLiteral(c.locale ?? '')}`]
          : [`provider = libc`, `lc_collate = ${sqlLiteral(c.collate ?? '')}`, `lc_ctype = ${sqlLiteral(c.ctype ?? '')}`];
    if (!c.deterministic) options.push('deterministic = false');
    return { schema: c.schema, name: c.name, ddl: `CREATE COLLATION IF NOT EXISTS ${qname(c)} (${options.join(', ')})`, ...(c.comment !== null ? { comment: c.comment } : {}) };
  });
}
