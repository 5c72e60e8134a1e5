import { fillRuleProblems, ruleFenceWarnings, ruleProblems } from './table-rules.js';
import { uncarriedProblems } from './uncarried.js';
import { defaultPrivilegeWarnings } from './default-privileges.js';
import { largeObjectProblems } from './large-objects.js';
import type { Catalog, Table } from '../catalog/model.js';
import { tableKey, parseKey } from '../catalog/model.js';
import { functionsAfterViews, renderPreDataParts, renderPostData, renderViews } from '../catalog/ddl.js';
import { catalogFingerprint, tableFingerprint } from '../catalog/fingerprint.js';
import { ident, qname } from '../pg/quote.js';
import { xmlReadAs } from './xml-columns.js';
import { TOOL_VERSION } from '../version.js';
import type { Plan, ServicePlan, Step, TargetRef, CopyDataStep } from './model.js';
import type { PlanInput, ResolvedServiceInput } from './input.js';
import { classifyForeignKeys, ownership, withPartitions } from './foreign-keys.js';
import { stepId, copyStepId } from '../steps/ids.js';
import { MARKER_SETUP, markerInsert } from '../steps/marker.js';
import { createRoleSql } from '../steps/create-role.js';
import { existingRoleSql } from '../steps/existing-role.js';
import { createDatabaseSql, databaseSettingsSql, roleSettingsSql } from '../steps/create-database.js';
import { fenceSql } from '../steps/fence-source.js';
import { copySql, copyTransaction, rangeMarkerKey } from '../steps/copy-data.js';
import { groupLookups, lookupColumn, lookupJoin, joinsPlainly, lookupWorkMemKb } from '../steps/denormalize-lookup.js';
import { vacuumAnalyzeSql } from '../steps/create-indexes.js';
import { DEFAULT_SPLIT, rangeCount, rangePredicates } from './copy-ranges.js';
import { separateIndexBuilds } from './index-steps.js';
import { BATCH_BYTES } from '../steps/batch-size.js';
import { syncSequenceSql } from '../steps/sync-sequences.js';
import { grantSql } from '../steps/grant.js';
import { databaseAccessSql } from '../steps/database-access.js';
import { verifyRowcountsSql } from '../steps/verify-rowcounts.js';
import { retentionSql, EXPIRES_PLACEHOLDER } from '../steps/schedule-retention.js';
import { tableRetentionSql } from '../retention/table-backup.js';
import { dependencyClosure } from '../catalog/closure.js';
import { buildOnlinePlan } from './build-online.js';
import { withServerCopy } from './build-server-copy.js';
import { assertStepOrder } from './step-order.js';
import { outsidePartitionNotes } from './outside-partition-notes.js';
import { accountObjects, extensionWarnings } from './objects.js';
import { ownershipStatements } from './owners.js';
import { readOnlyCopyFunctionSql, readOnlyCopyTriggerSql } from './read-only-copies.js';
import { publicGrantWarnings } from './public-grants.js';
import { stayingParentWarnings } from './staying-parents.js';
import { missingGrantees } from './grantees.js';
import { granteesOf, guardedPrivilegeSql, privilegeStatements, sessionRoleGrantsSql, type PrivilegeStatement } from '../catalog/ddl-privileges.js';
import type { Closure } from '../catalog/closure.js';
import { remainingForeignKeys } from '../waves/remaining-foreign-keys.js';
import { carriedPublications, ownedPublications, superuserPublications } from './publications.js';
import { collationSql, collationsUsed } from './collations.js';
import { textSearchNeeded } from './text-search.js';

interface ServiceWork {
  input: ResolvedServiceInput;
  target: TargetRef;
  /** Owned and copied tables with their partitions. */
  keys: string[];
  plan: ServicePlan;
  keep: ReturnType<typeof classifyForeignKeys>['keep'];
  /** Views and objects placed by name: what the pre-data creates besides the tables' needs. */
  objects: string[];
  /** Everything the database gets besides its tables: types, functions, sequences, extensions. */
  closure: Closure;
  /** The schemas the database gets. */
  schemas: string[];
  privileges: PrivilegeStatement[];
}

function tableMap(catalog: Catalog): Map<string, Table> {
  return new Map(catalog.tables.map((t) => [tableKey(t), t]));
}

/** Builds the ordered steps of SPEC §3 from resolved input. Pure: no I/O. */
export function buildPlan(input: PlanInput): Plan {
  const { manifest, catalog } = input;
  const tables = tableMap(catalog);
  const own = ownership(catalog, input.services);
  const warnings = [...input.warnings, ...outsidePartitionNotes(catalog, input.services)];
  const errors: string[] = [];

  const work: ServiceWork[] = input.services.map((s) => {
    const target: TargetRef = { service: s.spec.name, server: s.spec.server, database: s.spec.database };
    const keys = withPartitions(catalog, [...s.tables, ...s.copies]);
    const fks = classifyForeignKeys(input, s, own);
    const size = (k: string) => {
      const t = tables.get(k)!;
      // A partitioned table holds no rows of its own (ANALYZE gives it its partitions' total): its leaves are counted.
      const leaves = withPartitions(catalog, [k]).map((x) => tables.get(x)!).filter((l) => l.kind !== 'p');
      return {
        name: k,
        rowsEstimate: Math.max(0, leaves.reduce((a, l) => a + Math.max(0, l.rowsEstimate), 0)),
        bytes: leaves.reduce((a, l) => a + l.bytes, 0) || t.bytes,
        analyzed: leaves.every((l) => l.rowsEstimate >= 0 || l.kind === 'p'),
      };
    };
    const plan: ServicePlan = {
      name: s.spec.name,
      database: s.spec.database,
      server: s.spec.server,
      role: s.spec.role?.name ?? null,
      tables: s.tables.filter((k) => !tables.get(k)?.partitionOf).map(size),
      copies: s.copies.filter((k) => !tables.get(k)?.partitionOf).map(size),
      views: s.views,
      droppedForeignKeys: fks.dropped,
      denormalize: s.denormalize.map((d) => ({
        table: d.table,
        column: d.column,
        from: `${d.fromTable}.${d.fromColumn}`,
        on: d.on.map((o) => o.local),
        type: d.type,
      })),
    };
    const objects = [...s.views, ...(s.objects ?? [])];
    // A denormalized column has its source column's type: that type (an enum, a domain) or the extension making it (citext) comes along.
    const denormalizedColumns = s.denormalize.flatMap((d) => tables.get(d.fromTable)?.columns.filter((c) => c.name === d.fromColumn) ?? []);
    const closure = dependencyClosure(
      catalog,
      [...keys, ...objects, ...denormalizedColumns.flatMap((c) => (c.typeKey ? [c.typeKey] : []))],
      denormalizedColumns.flatMap((c) => (c.typeExtension ? [c.typeExtension] : [])),
    );
    const viewKeys = new Set(catalog.views.map(tableKey));
    const schemas = [
      ...new Set([
        ...keys.map((k) => tables.get(k)!.schema),
        ...s.views.filter((v) => viewKeys.has(v)).map((v) => parseKey(v).schema),
        ...closure.types.map((t) => t.schema),
        ...closure.functions.map((f) => f.schema),
        ...closure.sequences.map((q) => q.schema),
      ]),
    ].sort();
    const privileges = privilegeStatements(catalog, { tables: keys, views: s.views, closure, schemas });
    return { input: s, target, keys, plan, keep: fks.keep, objects, closure, schemas, privileges };
  });

  const account = accountObjects(
    catalog,
    work.map((w) => ({
      service: w.input.spec.name,
      database: w.target.database,
      closure: w.closure,
      views: w.input.views,
      owned: new Set(withPartitions(catalog, w.input.tables)),
      tables: new Set(w.keys),
    })),
    {
      schemas: manifest.source.schemas,
      staying: input.ignored,
      owner: own.owner,
      movedBy: new Map((input.movedEarlier ?? []).map((m) => [m.table, m.split])),
      objectsMovedBy: new Map((input.sequencesMovedEarlier ?? []).map((x) => [x.sequence, x.split])),
    },
  );
  for (const w of work) w.plan.objects = account.byService.get(w.input.spec.name) ?? [];
  warnings.push(...account.warnings);
  errors.push(...account.errors);
  warnings.push(
    ...missingGrantees(
      work.map((w) => ({ server: w.target.server, database: w.target.database, role: w.input.spec.role?.name ?? null, grantees: granteesOf(w.privileges) })),
      input.targetRoles ?? {},
    ),
  );

  // Sequences copied into more than one database keep separate counters from then on.
  const seqUsers = new Map<string, string[]>();
  for (const w of work) {
    // A sequence only a copied table uses (`copies`, read-only) draws no values there.
    const writing = w.input.copies.length === 0 ? w.closure : dependencyClosure(catalog, [...withPartitions(catalog, w.input.tables), ...w.objects]);
    for (const seq of writing.sequences) {
      const k = `${seq.schema}.${seq.name}`;
      seqUsers.set(k, [...(seqUsers.get(k) ?? []), w.input.spec.name]);
    }
  }
  for (const [k, users] of seqUsers) {
    if (users.length > 1) {
      warnings.push(`sequence ${k} is used by tables of ${users.join(', ')}: each database gets its own copy set to the source's value, so values can collide across services from now on`);
    }
  }

  // A sequence an earlier wave carried gives out values in that wave's database now: a second copy would start behind them.
  const earlierSequences = new Map((input.sequencesMovedEarlier ?? []).map((x) => [x.sequence, x]));
  for (const w of work) {
    for (const seq of w.closure.sequences) {
      const k = tableKey(seq);
      const e = earlierSequences.get(k);
      if (!e || seq.ownedBy) continue;
      const named = (w.input.objects ?? []).includes(k);
      const what =
        `sequence ${k} went with split ${e.split} into ${e.database}, which gives out its values now: ${w.target.database} (${w.input.spec.name}) would get a second copy ` +
        `set to the source's value, behind the values ${e.database} has given out since, and the two would give out the same values`;
      if (named) errors.push(`${what}; remove it from services.${w.input.spec.name}.objects (a sequence is moved once)`);
      else {
        warnings.push(
          `${what} (the tables of ${w.input.spec.name} that use it take it along); after apply, set it past ${e.database}'s (SELECT setval('${k}', …)) and give each database its own range of values (ALTER SEQUENCE … INCREMENT BY / START), or keep one sequence's values in one database`,
        );
      }
    }
  }

  const lo = largeObjectProblems(catalog, work.flatMap((w) => w.keys));
  errors.push(...lo.errors);
  errors.push(...ruleProblems(catalog, work.map((w) => ({ service: w.input.spec.name, database: w.target.database, tables: new Set(w.keys), views: new Set(w.input.views) }))));
  warnings.push(...ruleFenceWarnings(catalog, work.flatMap((w) => withPartitions(catalog, w.input.tables))));
  if (manifest.mode === 'online') errors.push(...fillRuleProblems(catalog, work.flatMap((w) => w.input.denormalize.map((d) => ({ table: d.table, column: d.column })))));
  errors.push(...uncarriedProblems(catalog, work.map((w) => ({ service: w.input.spec.name, database: w.target.database, tables: w.keys, views: w.input.views }))));
  for (const w of work) {
    const methods = w.keys.flatMap((k) => (tables.get(k)?.accessMethod ? [`${k} (${tables.get(k)!.accessMethod})`] : []));
    if (methods.length === 0) continue;
    errors.push(
      `${w.target.database} would get tables of a table access method other than heap: ${methods.join(', ')}; a new database (made from template0) has no such method, ` +
        'and the split does not make one: convert the table to heap before the split (ALTER TABLE … SET ACCESS METHOD heap, PostgreSQL 15 and later), or leave it in the source (ignore)',
    );
  }
  for (const f of catalog.foreignTables ?? []) {
    warnings.push(
      `foreign table ${f.schema}.${f.name} (server ${f.server}) stays in the source: its rows live on that server, and the new databases get neither it nor its server and user mapping; make them there by hand where a service reads it`,
    );
  }
  // FORCE ROW LEVEL SECURITY binds a table's owner too: a service's role that becomes the owner sees what the policies let it.
  for (const w of work) {
    const role = w.input.spec.role?.name;
    const forced = w.keys.filter((k) => tables.get(k)?.forceRowSecurity);
    if (!role || forced.length === 0) continue;
    warnings.push(
      `${forced.join(', ')} ${forced.length === 1 ? 'has' : 'have'} FORCE ROW LEVEL SECURITY: in ${w.target.database}, ${role} owns ${forced.length === 1 ? 'it' : 'them'}, and the policies bind it as they bind every role ` +
        `(in the source the owner may have been a superuser, whom nothing binds): check that they let ${role} read and write what ${w.input.spec.name} needs, or give it BYPASSRLS`,
    );
  }
  if (catalog.secretSettings?.length) {
    const names = catalog.secretSettings;
    warnings.push(
      `the source database's setting${names.length === 1 ? '' : 's'} ${names.join(', ')} ${names.length === 1 ? 'holds' : 'hold'} a secret by ${names.length === 1 ? 'its name' : 'their names'}: ` +
        `not carried, so that ${names.length === 1 ? 'its value stays' : 'their values stay'} out of the plan, the journal, every statement and the servers' logs; ` +
        `set ${names.length === 1 ? 'it' : 'each'} by hand on the new databases that need ${names.length === 1 ? 'it' : 'them'} (ALTER DATABASE … SET ${names[0]!.replace(/ \(role .*\)$/, '')} = '…')`,
    );
  }
  warnings.push(...lo.warnings);
  warnings.push(...defaultPrivilegeWarnings(catalog));

  const steps: Step[] = [];
  const preflightId = stepId('preflight', catalog.database);
  steps.push({
    id: preflightId,
    kind: 'preflight',
    description: `check connectivity, privileges, versions and free database names on ${[...new Set(work.map((w) => w.target.server))].join(', ')}`,
    sql: [],
    dependsOn: [],
    targets: work.map((w) => w.target),
    roles: work.flatMap((w) => (w.input.spec.role && !w.input.spec.role.existing ? [w.input.spec.role.name] : [])),
    online: manifest.mode === 'online',
  });

  for (const w of work) {
    const role = w.input.spec.role;
    if (!role) continue;
    steps.push({
      id: stepId('create_role', w.target.database, role.name),
      kind: 'create_role',
      service: w.input.spec.name,
      description: role.existing
        ? `use the existing role ${role.name} for ${w.input.spec.name} as it is (its password is not changed)`
        : `create login role ${role.name} for ${w.input.spec.name}`,
      sql: role.existing ? existingRoleSql(role.name) : createRoleSql(role.name, role.password),
      dependsOn: [preflightId],
      server: w.target.server,
      role: role.name,
      password: role.password,
      ...(role.existing ? { existing: true } : {}),
    });
  }

  for (const w of work) {
    const role = w.input.spec.role;
    const settings = [...databaseSettingsSql(w.target.database, catalog.settings ?? []), ...roleSettingsSql(w.target.database, catalog.roleSettings ?? [])];
    steps.push({
      id: stepId('create_database', w.target.database),
      kind: 'create_database',
      service: w.input.spec.name,
      description: `create database ${w.target.database} on server ${w.target.server}${settings.length ? ` with the source's settings ${settings.map((x) => x.name).join(', ')}` : ''}`,
      sql: [...createDatabaseSql(w.target.database, role?.name ?? null, catalog), ...settings.map((x) => x.sql)],
      dependsOn: [preflightId, ...(role ? [stepId('create_role', w.target.database, role.name)] : [])],
      target: w.target,
      owner: role?.name ?? null,
      encoding: catalog.encoding,
      collate: catalog.collate,
      ctype: catalog.ctype,
      localeProvider: catalog.localeProvider,
      icuLocale: catalog.icuLocale,
    });
  }

  const collationsCarried = new Set<string>();
  const searchCarried = new Set<string>();
  const extensionsCarried = new Set(work.flatMap((w) => w.closure.extensions.map((e) => e.name)));
  const searchUncarriable = new Map<string, string[]>();
  // Rendered once per service: the collations its statements name are read from it here, its steps built from it below.
  const postData = new Map<ServiceWork, ReturnType<typeof renderPostData>>();
  const publicationsOf = new Map<ServiceWork, ReturnType<typeof carriedPublications>>();
  for (const w of work) {
    const extraColumns: Record<string, Array<{ name: string; type: string }>> = {};
    for (const d of w.input.denormalize) extraColumns[d.table] = [...(extraColumns[d.table] ?? []), { name: d.column, type: d.type }];
    const pre = w.keys.length + w.objects.length > 0 ? renderPreDataParts(catalog, w.keys, { extraColumns, objects: w.objects, closure: w.closure }) : { setup: [], objects: [] };
    const post = renderPostData(catalog, w.keys, { keepForeignKey: w.keep });
    postData.set(w, post);
    const rendered = [...pre.setup, ...pre.objects, ...Object.values(post.perTable).flat(), ...renderViews(catalog, w.input.views)];
    const collations = collationsUsed(catalog, rendered);
    collations.forEach((c) => collationsCarried.add(`${c.schema}.${c.name}`));
    const search = textSearchNeeded(catalog, rendered, new Set(w.closure.extensions.map((e) => e.name)));
    search.objects.forEach((o) => searchCarried.add(`${o.schema}.${o.name}`));
    search.objects.forEach((o) => o.needs.forEach((e) => extensionsCarried.add(e.name)));
    search.uncarriable.forEach((o) => searchUncarriable.set(`${o.kind} ${o.schema}.${o.name}`, [...(searchUncarriable.get(`${o.kind} ${o.schema}.${o.name}`) ?? []), w.input.spec.name]));
    const id = stepId('create_schema', w.target.database);
    const named =
      (collations.length ? `, the collation${collations.length > 1 ? 's' : ''} ${collations.map((c) => `${c.schema}.${c.name}`).join(', ')}` : '') +
      (search.objects.length ? `, the text search ${search.objects.map((o) => `${o.kind} ${o.schema}.${o.name}`).join(', ')}` : '');
    steps.push({
      id,
      kind: 'create_schema',
      service: w.input.spec.name,
      description: `create ${w.keys.length} tables (no indexes or foreign keys yet), ${w.closure.functions.length} functions, ${w.closure.types.length} types${named} and ${w.closure.sequences.length} sequences in ${w.target.database}`,
      // A collation before what uses it; its schema is one the service's objects live in, or made here.
      // Text search objects after the extensions their dictionaries come from, before the functions, columns and indexes naming them.
      sql: [
        ...MARKER_SETUP,
        ...collations.flatMap(collationSql),
        ...pre.setup,
        ...search.sql,
        ...pre.objects,
        ...(w.input.copies.length > 0 ? readOnlyCopyFunctionSql() : []),
        markerInsert(id),
      ],
      dependsOn: [stepId('create_database', w.target.database)],
      target: w.target,
    });
  }

  warnings.push(...extensionWarnings(catalog, extensionsCarried));
  if (!manifest.source.retire) warnings.push(...stayingParentWarnings(catalog, own.owner, new Set(input.ignored)));
  warnings.push(...publicGrantWarnings(catalog, own.owner, manifest.source.retire, input.services.filter((x) => x.spec.role).map((x) => x.spec.name)));
  for (const [o, services] of searchUncarriable) {
    warnings.push(
      `text search ${o} of the source is named by what ${services.join(', ')} get${services.length > 1 ? '' : 's'}, but is made over a parser or template of the source's own, which is not carried: ` +
        `create that parser or template and then the ${o.split(' ')[0]} in ${services.length > 1 ? 'their databases' : 'its database'} before apply, or an index or a query naming it fails there`,
    );
  }
  const searchLeft = (catalog.textSearch ?? []).filter((o) => !searchCarried.has(`${o.schema}.${o.name}`) && !searchUncarriable.has(`${o.kind} ${o.schema}.${o.name}`));
  if (searchLeft.length > 0) {
    const names = searchLeft.map((o) => `${o.kind} ${o.schema}.${o.name}`);
    warnings.push(
      `text search ${names.join(', ')} left in the source, in no service's database: nothing moved names ${names.length > 1 ? 'them' : 'it'}; ` +
        `a service whose own queries use ${names.length > 1 ? 'one' : 'it'} (to_tsvector('${searchLeft[0]!.schema}.${searchLeft[0]!.name}', …)) needs it created in its database (CREATE TEXT SEARCH …)`,
    );
  }
  const collationsLeft = (catalog.collations ?? []).map((c) => `${c.schema}.${c.name}`).filter((c) => !collationsCarried.has(c));
  if (collationsLeft.length > 0) {
    warnings.push(
      `collation${collationsLeft.length > 1 ? 's' : ''} ${collationsLeft.join(', ')} left in the source, in no service's database: nothing moved names ${collationsLeft.length > 1 ? 'them' : 'it'}; ` +
        `a service whose own queries use ${collationsLeft.length > 1 ? 'one' : 'it'} (… COLLATE ${collationsLeft[0]}) needs CREATE COLLATION in its database`,
    );
  }

  // Offline: one fence per service, so that a service applied on its own (`apply --service`)
  // fences only its tables. Every copy waits for every fence of its run, so the one
  // snapshot of a run is taken after all of them. Online: the cutover fences all at once.
  const schemaIds = work.map((w) => stepId('create_schema', w.target.database));
  // A partition tree's root also gets the row fence, which PostgreSQL clones onto partitions made later.
  const roots = new Set(catalog.tables.filter((t) => t.kind === 'p' && !t.partitionOf).map(tableKey));
  const fenced = (table: string, database: string) => ({ table, database, ...(roots.has(table) ? { partitionRoot: true } : {}) });
  const fenceGroups = manifest.mode === 'online'
    ? [{ id: stepId('fence_source', catalog.database), service: undefined, moved: work.flatMap((w) => withPartitions(catalog, w.input.tables).map((table) => fenced(table, w.target.database))) }]
    : work
        .map((w) => ({
          id: stepId('fence_source', catalog.database, w.target.database),
          service: w.input.spec.name,
          moved: withPartitions(catalog, w.input.tables).map((table) => fenced(table, w.target.database)),
        }))
        .filter((g) => g.moved.length > 0);
  // One after the other: each adds its tables to the journal's one record of the fence.
  fenceGroups.forEach((g, i) => {
    steps.push({
      id: g.id,
      kind: 'fence_source',
      ...(g.service !== undefined ? { service: g.service } : {}),
      description: `fence ${g.moved.length} moved tables of ${catalog.database}${g.service !== undefined ? ` (${g.service})` : ''}: writes fail with the name of the new database`,
      sql: fenceSql(manifest.name, g.moved),
      dependsOn: [...schemaIds, ...(i > 0 ? [fenceGroups[i - 1]!.id] : [])],
      tables: g.moved.map((m) => m.table),
    });
  });
  const fenceIds = fenceGroups.map((g) => g.id);

  const copySteps: CopyDataStep[] = [];
  /** Table key (per target database) → its copy step ids (several when split into ranges). */
  const copyIds = new Map<string, string[]>();
  const policy = input.split ?? DEFAULT_SPLIT;
  for (const w of work) {
    const moved = new Set(withPartitions(catalog, w.input.tables));
    for (const key of w.keys) {
      const t = tables.get(key)!;
      if (t.kind === 'p') continue;
      const columns = t.columns.filter((c) => !c.generated).map((c) => c.name);
      const denorm = w.input.denormalize.filter((d) => d.table === key || d.table === own.root.get(key));
      // A plain join on a small referenced table, else a correlated probe per row (see denormalize-lookup.ts): never a join the planner can turn into an exploding hash.
      const lookups = groupLookups(denorm, (d) => ({ ...parseKey(d.fromTable), partitioned: tables.get(d.fromTable)?.kind === 'p' }));
      const sized = lookups.map((g) => {
        const from = tables.get(g.entries[0]!.fromTable);
        return { lookup: g.lookup, sizes: { referencing: t.bytes, referenced: from?.bytes ?? -1, referencingRows: t.rowsEstimate, referencedRows: from?.rowsEstimate ?? -1 } };
      });
      const joins = sized.map((x) => lookupJoin('s', x.lookup, x.sizes));
      // Room for the plainly joined tables' hash in one batch (the server's default spills the copied rows to disk).
      const hashed = sized.filter((x) => joinsPlainly(x.lookup, x.sizes)).map((x) => ({ bytes: x.sizes.referenced, rows: x.sizes.referencedRows }));
      const workMem = hashed.length > 0 ? lookupWorkMemKb(hashed) : 0;
      const readColumn = (d: (typeof denorm)[number]) => lookups.find((g) => g.entries.includes(d))!.lookup;
      const extra = denorm.map((d) => ({ name: d.column, expression: lookupColumn(readColumn(d), d.fromColumn) }));
      // Binary when every copied column, the denormalized ones included, travels safely in binary.
      const copiedTypes = [...t.columns.filter((c) => !c.generated), ...denorm.map((d) => tables.get(d.fromTable)?.columns.find((c) => c.name === d.fromColumn))];
      // xml is read as its stored text, in text format: its output (COPY's, binary or text) drops a leading
      // `<?xml version="1.0"?>`, and its binary input would convert by the encoding the declaration names.
      const readAs = xmlReadAs(t, 's');
      const binary = Object.keys(readAs).length === 0 && !copiedTypes.some((c) => !c || c.typeFlags.includes('binary-unsafe'));
      const filling = denorm.length ? `, filling ${denorm.map((d) => d.column).join(', ')}` : '';
      const rowsEstimate = Math.max(0, t.rowsEstimate);
      // Only fenced (moved) tables are split: their ranges read equal data whichever run's snapshot they use.
      const keyRange = moved.has(key) ? input.keyRanges?.[key] : undefined;
      const ranges = keyRange ? rangePredicates(keyRange, rangeCount(t.bytes, policy)) : [];
      const parts: Array<{ where: string | null; index: number }> = ranges.length > 1 ? ranges.map((where, index) => ({ where, index })) : [{ where: null, index: 0 }];
      // A small table (by its size at plan time) is emptied with DELETE and loaded without FREEZE: cheaper than a TRUNCATE, copied in batches (batch-size.ts).
      const freeze = parts.length > 1 || t.bytes > BATCH_BYTES;
      const ids: string[] = [];
      for (const part of parts) {
        const of = parts.length;
        const sql = copySql({ source: { schema: t.schema, name: t.name }, columns, extra, joins, binary, freeze, where: part.where, truncate: part.index === 0, readAs });
        const range = part.where === null ? null : { index: part.index, of, where: part.where };
        const id = copyStepId(w.target.database, key, range ?? undefined);
        const step: CopyDataStep = {
          id,
          kind: 'copy_data',
          service: w.input.spec.name,
          table: key,
          // No estimates here: they move with the source's statistics (rowsEstimate and bytes hold them).
          description: range
            ? `copy ${key} range ${part.index + 1} of ${of} (${part.where}) into ${w.target.database}${filling}`
            : `copy ${key} into ${w.target.database}${filling}`,
          sql: [],
          // The first range empties the table: the others start after it.
          dependsOn: [...fenceIds, stepId('create_schema', w.target.database), ...(part.index > 0 ? [ids[0]!] : [])],
          target: w.target,
          source: { schema: t.schema, name: t.name },
          columns,
          extraColumns: denorm.map((d) => d.column),
          copyOut: sql.copyOut,
          copyIn: sql.copyIn,
          freeze,
          binary,
          rowsEstimate: range ? Math.round(rowsEstimate / of) : rowsEstimate,
          ...(t.rowsEstimate < 0 ? { analyzed: false } : {}),
          bytes: range ? Math.round(t.bytes / of) : t.bytes,
          range,
          ...(workMem > 0 ? { lookupWorkMemKb: workMem } : {}),
        };
        step.sql = copyTransaction(sql.before, sql.copyIn, range ? [markerInsert(rangeMarkerKey(step))] : []);
        ids.push(id);
        copySteps.push(step);
      }
      copyIds.set(`${w.target.database}\u0000${key}`, ids);
    }
  }
  // Largest first: the long copy starts at once and the small ones fill in around it.
  // Ranges of one table stay together, first range first (the others depend on it).
  const order = (c: CopyDataStep) => `${c.target.database}\u0000${c.table ?? ''}`;
  copySteps.sort((a, b) => b.bytes - a.bytes || order(a).localeCompare(order(b)) || (a.range?.index ?? 0) - (b.range?.index ?? 0));
  steps.push(...copySteps);

  for (const w of work) {
    const post = postData.get(w)!;
    const roots = w.keys.filter((k) => !tables.get(k)!.partitionOf);
    const tableSteps: string[] = [];
    const copiesHere = new Set(w.input.copies);
    for (const root of roots) {
      const family = withPartitions(catalog, [root]);
      const ownerService = own.owner.get(root);
      const ownerWork = work.find((x) => x.input.spec.name === ownerService);
      const sql = [
        ...family.flatMap((k) => post.perTable[k] ?? []),
        ...(copiesHere.has(root) ? readOnlyCopyTriggerSql(family, ownerWork ? { service: ownerWork.input.spec.name, database: ownerWork.target.database } : null, catalog.database) : []),
      ];
      if (sql.length === 0) continue;
      const id = stepId('create_indexes', w.target.database, root);
      // The table's pre-data first (a partitioned table without partitions has no copy step), then its rows.
      const copied = [
        stepId('create_schema', w.target.database),
        ...family.filter((k) => tables.get(k)!.kind !== 'p').flatMap((k) => copyIds.get(`${w.target.database}\u0000${k}`) ?? []),
      ];
      // A large table's indexes are built one per step, so that several are built at once.
      const apart = tables.get(root)!.bytes > policy.indexStepsLargerThan ? separateIndexBuilds(tables.get(root)!, sql) : { builds: [], rest: sql };
      const builds = apart.builds.length > 1 ? apart.builds : [];
      const buildIds = builds.map((b) => stepId('create_indexes', w.target.database, `${root}#${b.index}`));
      builds.forEach((b, i) =>
        steps.push({
          id: buildIds[i]!,
          kind: 'create_indexes',
          service: w.input.spec.name,
          table: root,
          description: `build index ${b.index} of ${root}`,
          sql: [b.sql, markerInsert(buildIds[i]!)],
          dependsOn: copied,
          target: w.target,
        }),
      );
      tableSteps.push(id);
      steps.push({
        id,
        kind: 'create_indexes',
        service: w.input.spec.name,
        table: root,
        description: builds.length ? `attach the keys, then triggers and policies of ${root}` : `build keys, indexes, triggers and policies of ${root}`,
        sql: [...(builds.length ? apart.rest : sql), markerInsert(id)],
        dependsOn: [...copied, ...buildIds],
        target: w.target,
        afterCommit: [vacuumAnalyzeSql(parseKey(root))],
      });
    }
    const views = renderViews(catalog, w.input.views, { routines: false, functions: functionsAfterViews(catalog, w.closure.functions) });
    const publications = carriedPublications(catalog, new Set(w.keys));
    publicationsOf.set(w, publications);
    const rest = [...post.foreignKeys, ...post.sequenceOwnership, ...views, ...publications.map((p) => p.sql)];
    const id = stepId('create_indexes', w.target.database, 'foreign_keys');
    const viewCount = views.length ? w.input.views.length : 0;
    const published = publications.length
      ? `, ${viewCount} views and the publication${publications.length > 1 ? 's' : ''} ${publications.map((p) => p.name).join(', ')}`
      : ` and ${viewCount} views`;
    steps.push({
      id,
      kind: 'create_indexes',
      service: w.input.spec.name,
      description: `add ${post.foreignKeys.length} foreign keys kept inside ${w.input.spec.name}, sequence ownership${published}`,
      sql: [...rest, markerInsert(id)],
      dependsOn: [stepId('create_schema', w.target.database), ...tableSteps],
      target: w.target,
      ...(superuserPublications(publications).length ? { superuserPublications: superuserPublications(publications) } : {}),
    });
  }

  for (const w of work) {
    const seqs = w.closure.sequences.map((s) => ({
      source: { schema: s.schema, name: s.name },
      target: { schema: s.schema, name: s.name },
    }));
    steps.push({
      id: stepId('sync_sequences', w.target.database),
      kind: 'sync_sequences',
      service: w.input.spec.name,
      description: `set ${seqs.length} sequences of ${w.target.database} to the source's values`,
      sql: seqs.map((s) => syncSequenceSql(s.target)),
      // Its database's schema first: a service without copies would otherwise start here.
      dependsOn: [
        stepId('create_schema', w.target.database),
        ...copySteps.filter((c) => c.target.database === w.target.database && c.target.server === w.target.server).map((c) => c.id),
      ],
      target: w.target,
      sequences: seqs,
    });
  }

  if (!input.tableGrantees && work.some((w) => !w.input.spec.role && w.keys.length > 0)) {
    warnings.push(
      'planned from a schema snapshot: the roles that own and use the moved tables are not known, so the services without a role get no CONNECT for them on their new database, and the tool\'s role owns everything there; plan against the live source to include them',
    );
  }
  for (const w of work) {
    const schemas = w.schemas;
    const connect = w.input.spec.role ? [] : [...new Set(w.keys.flatMap((k) => input.tableGrantees?.[k] ?? []))].sort();
    // With a service role, the roles that used these tables in the source (their owner among them) cannot connect to the new database.
    const role = w.input.spec.role?.name;
    const shut = role ? [...new Set(w.input.tables.flatMap((k) => input.tableGrantees?.[k] ?? []))].filter((r) => r !== role).sort() : [];
    if (shut.length > 0) {
      warnings.push(
        `${w.input.spec.name}: ${shut.join(', ')} ${shut.length > 1 ? 'own or use' : 'owns or uses'} its tables in the source but cannot connect to ${w.target.database}, which only ${role} may: ` +
          `what logs in as ${shut.length > 1 ? 'them' : 'it'} (the service itself, a report, a backup job) must log in as ${role} from now on; ` +
          `a role that does not log in but is used through SET ROLE or membership (row-level security policies name it) needs GRANT ${shut.map((s) => `"${s.replaceAll('"', '""')}"`).join(', ')} TO "${role!.replaceAll('"', '""')}" on the target server; ` +
          `or leave out services.${w.input.spec.name}.role to keep the source's owners`,
      );
    }
    // An existing role as the service's role that owns its tables in the source keeps every right on them there.
    const owning = role && w.input.spec.role?.existing ? w.input.tables.filter((k) => input.sourceOwners?.[`relation ${k}`] === role).sort() : [];
    if (owning.length > 0) {
      warnings.push(
        `${w.input.spec.name}: ${role} (existing) owns ${owning.length > 3 ? `${owning.slice(0, 3).join(', ')} and ${owning.length - 3} more` : owning.join(', ')} in the source, and an owner keeps every right on its tables (it may disable the fence): ` +
          `verify's isolation check fails until another role owns them there (ALTER TABLE … OWNER TO …), and retention prune waits for a passing verify`,
      );
    }
    const grantees = granteesOf(w.privileges);
    const ownership = w.input.spec.role || !input.sourceOwners
      ? []
      : ownershipStatements(catalog, { database: w.target.database, tables: w.keys, views: w.input.views, closure: w.closure, schemas: w.schemas }, input.sourceOwners);
    const owners = granteesOf(ownership);
    const carried = w.privileges.length > 0 ? `carry the source's privileges${grantees.length ? ` (to ${grantees.join(', ')}, each if it exists on the server)` : ''}; ` : '';
    steps.push({
      id: stepId('grant', w.target.database),
      kind: 'grant',
      service: w.input.spec.name,
      description: w.input.spec.role
        ? `${carried}make ${w.input.spec.role.name} the owner of ${w.target.database} and its objects; revoke CONNECT from PUBLIC`
        : `${carried}${owners.length ? `give each object to the role that owns it in the source (${owners.join(', ')}, each if it exists on the server); ` : ''}revoke CONNECT on ${w.target.database} from PUBLIC${connect.length ? `; give CONNECT and TEMPORARY to ${connect.join(', ')} (they use its tables in the source)` : ''}`,
      // Granted while the tool still owns the objects: changing the owner then hands the grants over with them (but its own: granted again after).
      sql: [
        ...guardedPrivilegeSql(w.privileges, undefined, { sessionGrantsAfter: true }),
        ...guardedPrivilegeSql(ownership, 'what it owns in the source stays with the tool\'s role'),
        ...grantSql(w.target.database, w.input.spec.role?.name ?? null, schemas.length ? schemas : ['public'], ownedPublications(publicationsOf.get(w) ?? [])),
        ...sessionRoleGrantsSql(w.privileges),
        ...databaseAccessSql(w.target.database, connect),
      ],
      dependsOn: [stepId('create_indexes', w.target.database, 'foreign_keys'), stepId('sync_sequences', w.target.database)],
      target: w.target,
      role: w.input.spec.role?.name ?? null,
      ...(connect.length ? { connect } : {}),
      ...(owners.length ? { owners } : {}),
    });
  }

  for (const w of work) {
    const leaves = w.keys.filter((k) => tables.get(k)!.kind !== 'p');
    steps.push({
      id: stepId('verify_rowcounts', w.target.database),
      kind: 'verify_rowcounts',
      service: w.input.spec.name,
      description: `compare row counts of ${leaves.length} tables with the source snapshot`,
      sql: verifyRowcountsSql(leaves),
      dependsOn: [stepId('grant', w.target.database)],
      target: w.target,
      tables: leaves,
    });
  }

  const verifyIds = work.map((w) => stepId('verify_rowcounts', w.target.database));
  const repointIds: string[] = [];
  const fileSteps = new Map<string, string>();
  for (const w of work) {
    const edits = input.configEdits[w.input.spec.name] ?? [];
    if (edits.length === 0 && !w.input.spec.restart) continue;
    const id = stepId('repoint_config', w.target.database);
    repointIds.push(id);
    const after = [...new Set(edits.flatMap((e) => (fileSteps.has(e.file) ? [fileSteps.get(e.file)!] : [])))];
    for (const e of edits) fileSteps.set(e.file, id);
    steps.push({
      id,
      kind: 'repoint_config',
      service: w.input.spec.name,
      description: `repoint ${edits.length} config entr${edits.length === 1 ? 'y' : 'ies'} of ${w.input.spec.name} to ${w.target.database}${w.input.spec.restart ? `, then run: ${w.input.spec.restart}` : ''}`,
      sql: [],
      // A file shared by several services (atlas.hcl) is edited by their steps one after the other.
      dependsOn: [...verifyIds, ...after],
      target: w.target,
      edits,
      restart: w.input.spec.restart,
    });
  }

  // Only roles created on the source's server exist there: a role of another server cannot be named in its REVOKE.
  const roles = work.flatMap((w) => (w.input.spec.role && w.target.server === 'source' ? [w.input.spec.role.name] : []));
  const retire = manifest.source.retire;
  const kept = fenceGroups.flatMap((g) => g.moved.map((m) => m.table));
  steps.push({
    id: stepId('schedule_retention', catalog.database),
    kind: 'schedule_retention',
    description: retire
      ? `keep ${catalog.database} read-only as a backup for ${manifest.retention.days} days, then \`retention prune\` may drop it`
      : `keep the ${kept.length} moved tables fenced in ${catalog.database} as backups for ${manifest.retention.days} days, then \`retention prune\` may drop them; the rest of ${catalog.database} stays in use`,
    sql: retire
      ? retentionSql(manifest.name, catalog.database, roles, EXPIRES_PLACEHOLDER)
      : tableRetentionSql(manifest.name, kept, EXPIRES_PLACEHOLDER),
    dependsOn: [...verifyIds, ...repointIds],
    database: catalog.database,
    days: manifest.retention.days,
    roles: retire ? roles : [],
    retire,
    tables: kept,
  });

  const involved = [...new Set(work.flatMap((w) => w.keys))].sort();
  const tableFingerprints: Record<string, string> = {};
  for (const k of involved) tableFingerprints[k] = tableFingerprint(catalog, k);

  const remaining = remainingForeignKeys(
    catalog,
    new Map(work.flatMap((w) => withPartitions(catalog, w.input.tables).map((t) => [t, w.input.spec.name] as const))),
    new Map((input.movedEarlier ?? []).map((m) => [m.table, m.split])),
  );
  const plan: Plan = {
    formatVersion: 1,
    toolVersion: TOOL_VERSION,
    name: manifest.name,
    mode: manifest.mode,
    manifest: { path: input.manifestPath, text: input.manifestText },
    sourceFingerprint: catalogFingerprint(catalog, involved, tableFingerprints),
    tableFingerprints,
    source: {
      database: catalog.database,
      serverVersion: catalog.serverVersion,
    },
    services: work.map((w) => w.plan),
    ...(input.movedEarlier?.length ? { movedEarlier: input.movedEarlier } : {}),
    ...(remaining.length ? { remainingForeignKeys: remaining } : {}),
    leftBehind: account.leftBehind,
    steps,
    warnings,
    errors,
  };
  const built = withServerCopy(input, manifest.mode === 'online' ? buildOnlinePlan(input, plan) : plan);
  assertStepOrder(built);
  return built;
}
