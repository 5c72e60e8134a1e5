import { dirname, relative, resolve as resolvePath } from 'node:path';
import pg from 'pg';
import type { Catalog } from '../catalog/model.js';
import { introspect } from '../catalog/introspect.js';
import { readSnapshot } from '../catalog/snapshot.js';
import { loadManifestProblems } from '../manifest/load.js';
import { missingVariables, secretsOf } from '../manifest/expand.js';
import { resolveManifest } from '../manifest/resolve.js';
import { literalSecretProblems } from '../manifest/literal-secrets.js';
import { manifestConnection, settingsAt } from '../manifest/connection-settings.js';
import type { Manifest, ManifestProblem } from '../manifest/model.js';
import { outsideProblem } from '../config/inside.js';
import { planConfigEdits } from '../config/edit.js';
import { configPlanWarnings } from '../config/plan-warnings.js';
import { outsideViewWarning, readOutsideViews, type OutsideView } from '../catalog/outside-views.js';
import { functionsUsingTables, outsideFunctionWarning, readSourceFunctions, type SourceFunction } from '../catalog/outside-functions.js';
import { dependencyClosure } from '../catalog/closure.js';
import { FENCE_SCHEMA } from '../steps/fence-source.js';
import { readRowtypeFunctions, rowtypeFunctionWarning, type RowtypeFunction } from '../catalog/rowtype-functions.js';
import { BadInputError, ManifestError, ServerError } from '../errors.js';
import { redact, serverOf } from '../conn/connection.js';
import type { ConfigEdit, Plan } from './model.js';
import type { PlanInput, ResolvedServiceInput } from './input.js';
import { buildPlan } from './build.js';
import { controlDatabaseProblems } from './control-database.js';
import { stripToolObjects } from './tool-objects.js';
import { connectError } from '../pg/errors.js';
import { readKeyRanges, type KeyRange } from '../catalog/key-ranges.js';
import { readTableGrantees } from '../catalog/table-grantees.js';
import { readObjectOwners } from '../catalog/object-owners.js';
import { eventTriggerWarning, readEventTriggers } from '../catalog/event-triggers.js';
import { migrationHistoryWarning, ownedMigrationHistoryWarning } from '../init/legacy-table.js';
import { splitPolicyFromEnv, type SplitPolicy } from './copy-ranges.js';
import { nodePgConfig } from '../conn/node-pg.js';
import { refuseRetiredSource, refuseRetiringOverMoving, refuseRetiringOverUnfinished } from '../waves/retired-source.js';
import { systemIdentifier } from '../pg/server-identity.js';
import { controlUrlFor } from '../engine/control-url.js';
import { openJournalIfExists } from '../engine/journal-open.js';
import { earlierWaves, sequencesMovedEarlier, type SequenceMovedEarlier, type WaveRecord } from '../waves/earlier-waves.js';
import type { MovedTable } from '../waves/moved-table.js';
import { indexCatalog } from '../manifest/catalog-index.js';

export interface LoadedSplit {
  manifest: Manifest;
  text: string;
  file: string;
  baseDir: string;
  /** Expanded server URLs by name, "source" included (secrets inside: never print). */
  servers: Record<string, string>;
  controlUrl: string | null;
  secrets: string[];
}

/**
 * The variables apply needs that are not set where the plan was made (a pull request's
 * job plans without the services' passwords): named, so the job that applies knows them.
 */
function laterVariablesWarning(manifest: Manifest, env: NodeJS.ProcessEnv, file: string): string[] {
  const problems = missingVariables(manifest, env, file);
  const later = problems.filter((p) => / is not set$/.test(p.message));
  const empty = problems.filter((p) => / is set but empty:/.test(p.message)).map((p) => `${p.path}: ${p.message}; apply refuses it`);
  if (later.length === 0) return empty;
  const named = later.map((p) => `${p.message.replace(/^variable (\S+) is not set$/, '$1')} (${p.path})`);
  return [`not set here, and needed by apply: ${[...new Set(named)].join(', ')}; set ${later.length === 1 ? 'it' : 'them'} in the environment that runs apply`, ...empty];
}

/**
 * Loads the manifest and expands what connecting needs. Its problems, literal passwords
 * and missing variables are reported together, in one ManifestError.
 */
export async function loadSplit(file: string, env: NodeJS.ProcessEnv, needs: { source: boolean }): Promise<LoadedSplit> {
  const read = await loadManifestProblems(file);
  if (!read.loaded) throw new ManifestError(read.problems);
  const loaded = read.loaded;
  const { manifest } = loaded;
  const literal = literalSecretProblems(manifest, loaded.file);
  // Planning needs only the source (and the journal's place); passwords are needed by apply.
  const missing = needs.source ? missingVariables(manifest, env, loaded.file).filter((p) => /^(source|control)\.(url|ssl)/.test(p.path)) : [];
  const problems = uniqueProblems([...read.problems, ...literal, ...missing]);
  if (problems.length > 0) throw new ManifestError(problems);
  const servers: Record<string, string> = {};
  // A missing variable is reported by the command that needs it; a connection string
  // that is there but does not parse is bad input now (exit 2), without quoting it.
  const tryExpand = (v: string, where: string) => {
    if (missingVariables(manifest, env, loaded.file).some((p) => p.path === where || p.path.startsWith(`${settingsAt(manifest, where).base}.ssl`))) return null;
    return manifestConnection(manifest, where, v, env, loaded.file);
  };
  const src = tryExpand(manifest.source.url, 'source.url');
  if (src) servers.source = src;
  for (const [name, url] of Object.entries(manifest.servers)) {
    const u = tryExpand(url, `servers.${name}`);
    if (u) servers[name] = u;
  }
  const controlUrl = manifest.control ? tryExpand(manifest.control.url, 'control.url') : null;
  return { ...loaded, servers, controlUrl, secrets: secretsOf(manifest, env) };
}

function uniqueProblems(list: ManifestProblem[]): ManifestProblem[] {
  const seen = new Set<string>();
  return list.filter((p) => {
    const key = `${p.path}\0${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * What the source's catalog says of a manifest that has other problems already (a name
 * that matches no table, a table owned twice, tables no service owns): so that one run
 * of plan names them all (SPEC §1). Best effort, read as far as the manifest allows:
 * nothing when the YAML, the source's URL or the source itself cannot be read.
 */
async function catalogProblems(opts: MakePlanOptions): Promise<ManifestProblem[]> {
  try {
    const { loaded } = await loadManifestProblems(opts.manifestFile);
    if (!loaded || !loaded.manifest.source.url) return [];
    const m = loaded.manifest;
    const source = opts.schemaFile ? null : manifestConnection(m, 'source.url', m.source.url, opts.env, loaded.file);
    const catalog = source ? await readLiveCatalog(source, m.source.schemas) : stripToolObjects(await readSnapshot(opts.schemaFile!));
    const control = source && m.control ? manifestConnection(m, 'control.url', m.control.url, opts.env, loaded.file) : null;
    const split: LoadedSplit = { ...loaded, servers: source ? { source } : {}, controlUrl: control, secrets: [] };
    const identity = source ? await readSourceIdentity(source) : { systemIdentifier: null, databaseOid: null };
    const earlier = await readMovedEarlier(split, catalog, identity, source !== null);
    resolveManifest(m, catalog, loaded.file, earlier);
    return [];
  } catch (err) {
    return err instanceof ManifestError ? err.problems : [];
  }
}

export async function readLiveCatalog(sourceUrl: string, schemas: string[]): Promise<Catalog> {
  const client = new pg.Client(nodePgConfig(sourceUrl, { application_name: 'cloudphone-split' }));
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw connectError(err, sourceUrl, 'source');
  }
  try {
    return stripToolObjects(await introspect(client, schemas));
  } catch (err) {
    throw new ServerError(`reading the catalog of ${redact(sourceUrl)} failed: ${(err as Error).message}`, undefined, { cause: err });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Primary-key ranges of the source's tables larger than the split threshold (see copy-ranges.ts). */
export async function readLiveKeyRanges(sourceUrl: string, catalog: Catalog, policy: SplitPolicy): Promise<Record<string, KeyRange>> {
  if (!Number.isFinite(policy.largerThan) || !catalog.tables.some((t) => t.bytes > policy.largerThan)) return {};
  const client = new pg.Client(nodePgConfig(sourceUrl, { application_name: 'cloudphone-split' }));
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await readKeyRanges(client, catalog, policy.largerThan);
  } catch (err) {
    throw new ServerError(`reading the key ranges of the large tables of ${redact(sourceUrl)} failed: ${(err as Error).message}`, undefined, { cause: err });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Who uses each source table today (see readTableGrantees), and who owns each object (readObjectOwners). */
async function readLiveGrantees(
  sourceUrl: string,
  schemas: string[],
): Promise<{
  tableGrantees: Record<string, string[]>;
  sourceOwners: Record<string, string>;
  eventTriggers: string | null;
  outsideViews: OutsideView[];
  outsideFunctions: SourceFunction[];
  rowtypeFunctions: RowtypeFunction[];
}> {
  const client = new pg.Client(nodePgConfig(sourceUrl, { application_name: 'cloudphone-split' }));
  client.on('error', () => undefined);
  try {
    await client.connect();
    return {
      tableGrantees: await readTableGrantees(client, schemas),
      sourceOwners: await readObjectOwners(client),
      eventTriggers: eventTriggerWarning(await readEventTriggers(client)),
      outsideViews: await readOutsideViews(client, schemas),
      outsideFunctions: await readSourceFunctions(client, [...schemas, FENCE_SCHEMA]),
      rowtypeFunctions: await readRowtypeFunctions(client, schemas),
    };
  } catch (err) {
    throw new ServerError(`reading the privileges of the tables of ${redact(sourceUrl)} failed: ${(err as Error).message}`, undefined, { cause: err });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Roles of each target server other than the source's, for the plan's warning about
 * grantees missing there; null for a server that cannot be asked now (no URL, down,
 * or `plan --schema`): the grant step checks again when it runs.
 */
async function readTargetRoles(split: LoadedSplit, offline: boolean, unreachable: string[] = []): Promise<Record<string, string[] | null>> {
  const out: Record<string, string[] | null> = {};
  const names = [...new Set(split.manifest.services.map((s) => s.server))].filter((n) => n !== 'source');
  for (const name of names) {
    const url = split.servers[name];
    if (offline || !url) {
      out[name] = null;
      continue;
    }
    const client = new pg.Client(nodePgConfig(url, { application_name: 'cloudphone-split', connectionTimeoutMillis: 10_000 }));
    client.on('error', () => undefined);
    try {
      await client.connect();
      out[name] = (await client.query<{ rolname: string }>('SELECT rolname::text AS rolname FROM pg_catalog.pg_roles')).rows.map((r) => r.rolname);
    } catch (err) {
      out[name] = null;
      unreachable.push(
        `server ${name} could not be asked now (${err instanceof Error ? err.message : String(err)}): the plan could not check it (its roles, for the grants); ` +
          `apply's preflight connects to it first and stops, changing nothing, until it answers`,
      );
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return out;
}

function splitPolicy(env: NodeJS.ProcessEnv): SplitPolicy {
  try {
    return splitPolicyFromEnv(env);
  } catch (err) {
    throw new BadInputError((err as Error).message);
  }
}

/** The source cluster's system identifier and the database's OID: what tells two sources of the same database name apart. */
export async function readSourceIdentity(sourceUrl: string): Promise<{ systemIdentifier: string | null; databaseOid: string | null }> {
  const client = new pg.Client(nodePgConfig(sourceUrl, { application_name: 'cloudphone-split' }));
  client.on('error', () => undefined);
  try {
    await client.connect();
    const oid = (await client.query<{ oid: string }>(`SELECT oid::text AS oid FROM pg_database WHERE datname = current_database()`)).rows[0]?.oid ?? null;
    return { systemIdentifier: await systemIdentifier(client), databaseOid: oid };
  } catch (err) {
    throw connectError(err, sourceUrl, 'source');
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * What the journal says of the other splits (waves) of the journal, read without
 * creating the control database; empty when there is none.
 */
export async function readWaveRecords(controlUrl: string, exclude: string): Promise<WaveRecord[]> {
  let journal;
  try {
    journal = await openJournalIfExists(controlUrl);
  } catch (err) {
    throw new ServerError(`reading the journal in ${redact(controlUrl)} failed: ${(err as Error).message}`, 'check control.url (or the source server: the journal lives there by default)', { cause: err });
  }
  if (!journal) return [];
  try {
    return (await journal.splits(exclude)).map((r) => ({
      split: r.split,
      plan: r.plan,
      systemIdentifier: r.systemIdentifier,
      databaseOid: r.databaseOid,
      fencedAt: r.fencedAt?.toISOString() ?? null,
      changed: r.changed,
      live: r.live,
    }));
  } finally {
    await journal.close();
  }
}

/**
 * The tables earlier splits of this source moved (SPEC §7): from the journal (live
 * source only) and from the fences the catalog found.
 */
export async function readMovedEarlier(
  split: LoadedSplit,
  catalog: Catalog,
  sourceIdentity: { systemIdentifier: string | null; databaseOid: string | null },
  live: boolean,
): Promise<MovedTable[]> {
  const records = live ? await readWaveRecords(controlUrlFor(split.servers.source!, split.controlUrl), split.manifest.name) : [];
  const index = indexCatalog(catalog, split.manifest.source.schemas);
  return earlierWaves(records, catalog.fences ?? [], { split: split.manifest.name, database: catalog.database, ...sourceIdentity }, index.rootOf);
}

/** The sequences earlier splits of the same source carried into their databases (none from a snapshot). */
async function readSequencesMovedEarlier(
  split: LoadedSplit,
  catalog: Catalog,
  sourceIdentity: { systemIdentifier: string | null; databaseOid: string | null },
  live: boolean,
): Promise<SequenceMovedEarlier[]> {
  if (!live) return [];
  const records = await readWaveRecords(controlUrlFor(split.servers.source!, split.controlUrl), split.manifest.name);
  return sequencesMovedEarlier(records, { split: split.manifest.name, database: catalog.database, ...sourceIdentity });
}

export interface MakePlanOptions {
  manifestFile: string;
  /** A `snapshot -o` file instead of the live source. */
  schemaFile?: string;
  /** Where the plan will be written: the manifest path is stored relative to it. */
  planFile?: string;
  env: NodeJS.ProcessEnv;
}

/** manifest + catalog (live or snapshot) → plan. The only I/O of planning lives here. */
export async function makePlan(opts: MakePlanOptions): Promise<{ plan: Plan; split: LoadedSplit; catalog: Catalog }> {
  let split: LoadedSplit;
  try {
    split = await loadSplit(opts.manifestFile, opts.env, { source: !opts.schemaFile });
    const control = controlDatabaseProblems(split);
    if (control.length > 0) throw new ManifestError(control);
  } catch (err) {
    if (!(err instanceof ManifestError)) throw err;
    // All at once: those the file shows, and those only the source's catalog shows.
    throw new ManifestError(uniqueProblems([...err.problems, ...(await catalogProblems(opts))]));
  }
  const catalog = opts.schemaFile
    ? stripToolObjects(await readSnapshot(opts.schemaFile))
    : await readLiveCatalog(split.servers.source!, split.manifest.source.schemas);
  const policy = splitPolicy(opts.env);
  const keyRanges = opts.schemaFile ? {} : await readLiveKeyRanges(split.servers.source!, catalog, policy);
  const users = opts.schemaFile ? undefined : await readLiveGrantees(split.servers.source!, split.manifest.source.schemas);
  const sourceIdentity = opts.schemaFile ? { systemIdentifier: null, databaseOid: null } : await readSourceIdentity(split.servers.source!);
  if (!opts.schemaFile) await refuseRetiredSource(split.servers.source!, split.manifest.name);
  refuseRetiringOverUnfinished(catalog, split.manifest.name, split.manifest.source.retire);
  const movedEarlier = await readMovedEarlier(split, catalog, sourceIdentity, !opts.schemaFile);
  refuseRetiringOverMoving(movedEarlier, split.manifest.name, split.manifest.source.retire);
  const resolved = resolveManifest(split.manifest, catalog, split.file, movedEarlier);
  const services: ResolvedServiceInput[] = resolved.services.map((s) => ({
    spec: s.spec,
    tables: s.tables,
    copies: s.copies,
    views: s.views,
    objects: s.objects,
    denormalize: s.denormalize.map((d) => ({
      table: d.table,
      column: d.column,
      fromTable: d.from.table,
      fromColumn: d.from.column,
      type: d.type,
      on: d.on.map((o) => ({ local: o.local, remote: o.referenced })),
    })),
  }));
  const configEdits: Record<string, ConfigEdit[]> = {};
  const items = split.manifest.services.flatMap((s) => {
    const serverUrl = split.servers[s.server] ?? split.servers.source ?? null;
    const sameServer =
      s.server === 'source' || (serverUrl !== null && split.servers.source !== undefined && serverOf(serverUrl) === serverOf(split.servers.source));
    return s.config.map((entry) => ({ service: s.name, entry, target: { database: s.database, serverUrl, sameServer } }));
  });
  const outside: ManifestProblem[] = [];
  for (const s of split.manifest.services) {
    for (const [i, entry] of s.config.entries()) {
      const problem = await outsideProblem(split.baseDir, entry);
      if (problem) {
        outside.push({
          file: split.file,
          path: `services.${s.name}.config[${i}].file`,
          message: problem,
          fix: 'move the file inside the manifest\'s folder, or add outside: true to this entry if it really is to be rewritten',
        });
      }
    }
  }
  if (outside.length > 0) throw new ManifestError(outside);
  // All services' entries at once: entries on the same file chain, in step order.
  const planned = await planConfigEdits(split.baseDir, items);
  for (const [i, item] of items.entries()) (configEdits[item.service] ??= []).push(planned[i]!.edit);
  const movedKeys = new Set(resolved.services.flatMap((s) => [...s.tables, ...s.views]));
  const outsideViews = users ? outsideViewWarning(users.outsideViews, movedKeys) : null;
  // Those the moved tables' own triggers and defaults need go with them (their copy in the source serves only the fenced tables).
  const movedTables = resolved.services.flatMap((s) => s.tables);
  const carried = new Set(dependencyClosure(catalog, movedTables).functions.map((f) => `${f.schema}.${f.name}`));
  const outsideFunctions = users
    ? outsideFunctionWarning(functionsUsingTables(users.outsideFunctions.filter((f) => !carried.has(f.key.slice(0, f.key.indexOf('(')))), movedTables), split.manifest.source.schemas)
    : null;
  // Only a split that keeps its tables in the source drops them by name at prune (a retired source goes whole).
  const rowtypeFunctions = users && !split.manifest.source.retire ? rowtypeFunctionWarning(users.rowtypeFunctions, movedKeys) : null;
  const roleOf = new Map(split.manifest.services.map((s) => [s.name, s.role?.name ?? null]));
  const configWarnings = configPlanWarnings(
    items.map((item, i) => ({
      service: item.service,
      role: roleOf.get(item.service) ?? null,
      server: item.target.sameServer ? 'source' : split.manifest.services.find((x) => x.name === item.service)!.server,
      entry: item.entry,
      before: planned[i]!.before,
      after: planned[i]!.after,
    })),
  );
  const manifestPath = opts.planFile
    ? relative(dirname(resolvePath(opts.planFile)), split.file) || split.file
    : relative(process.cwd(), split.file) || split.file;
  const unreachable: string[] = [];
  const ignored = Object.values(resolved.tables).filter((t) => t.fate === 'ignored').map((t) => t.key);
  const history = migrationHistoryWarning(ignored);
  const ownedHistory = ownedMigrationHistoryWarning(resolved.services.map((s) => ({ name: s.spec.name, tables: s.tables })));
  const targetRoles = await readTargetRoles(split, Boolean(opts.schemaFile), unreachable);
  const input: PlanInput = {
    manifest: split.manifest,
    manifestText: split.text,
    manifestPath,
    catalog,
    services,
    ignored,
    warnings: [
      ...resolved.warnings.map((w) => `${w.path}: ${w.message} (${w.fix})`),
      ...(history ? [history] : []),
      ...(ownedHistory ? [ownedHistory] : []),
      ...unreachable,
      ...(users?.eventTriggers ? [users.eventTriggers] : []),
      ...(outsideViews ? [outsideViews] : []),
      ...(outsideFunctions ? [outsideFunctions] : []),
      ...(rowtypeFunctions ? [rowtypeFunctions] : []),
      ...laterVariablesWarning(split.manifest, opts.env, split.file),
      ...configWarnings,
    ],
    configEdits,
    keyRanges,
    ...(users ? { tableGrantees: users.tableGrantees, sourceOwners: users.sourceOwners } : {}),
    split: policy,
    targetRoles,
    movedEarlier,
    sequencesMovedEarlier: await readSequencesMovedEarlier(split, catalog, sourceIdentity, !opts.schemaFile),
  };
  return { plan: buildPlan(input), split, catalog };
}
