import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, resolve as resolvePath } from 'node:path';
import { readPlanFile, writePlanFile } from '../plan/plan-file.js';
import { loadSplit, makePlan, readLiveCatalog, readSourceIdentity, readWaveRecords } from '../plan/make.js';
import { SOURCE_FACT, type SourceFact } from '../engine/journal-waves.js';
import { systemIdentifier } from '../pg/server-identity.js';
import type { Catalog, FencedTable } from '../catalog/model.js';
import { SourceClaim } from '../waves/source-claim.js';
import { readFencedTables } from '../waves/fence-triggers.js';
import { earlierWaves } from '../waves/earlier-waves.js';
import { refuseChangedRolePasswords, refuseRejectedServerLogins } from './role-passwords.js';
import { movedSincePlan, rolledBackSincePlan, tablesPlanReads } from '../waves/plan-tables.js';
import { parseManifest } from '../manifest/load.js';
import { literalSecretProblems } from '../manifest/literal-secrets.js';
import { manifestConnection } from '../manifest/connection-settings.js';
import { missingVariables, secretsOf } from '../manifest/expand.js';
import type { Manifest } from '../manifest/model.js';
import type { Plan } from '../plan/model.js';
import { tableFingerprint } from '../catalog/fingerprint.js';
import { handlers } from '../steps/index.js';
import type { ProgressSink } from '../steps/handler.js';
import { Pools } from '../pg/pools.js';
import { Journal } from '../engine/journal.js';
import { openJournalIfExists } from '../engine/journal-open.js';
import { controlUrlFor } from '../engine/journal-db.js';
import { SplitLock } from '../engine/lock.js';
import { unfinishedRollback } from '../rollback/rollback-split.js';
import { SnapshotHolder } from '../engine/snapshot.js';
import { runPlan, type RunSummary } from '../engine/executor.js';
import { BadInputError, ManifestError, PlanBlockedError, StalePlanError } from '../errors.js';
import { refuseRetiredSource, refuseRetiringOverMoving, refuseRetiringOverUnfinished } from '../waves/retired-source.js';
import { defaultPlanFile } from './plan.js';
import type { Reporter } from './reporter.js';
import { finishedPlanOf, interruptedRunOf, lastSucceededPlan } from './applied-plan.js';
import { amendsPlan } from '../engine/plan-amends.js';
import { isTableRetentionComment } from '../retention/table-backup.js';
import { appliedServices, checkServiceNames, selectServices, type ServiceSelection } from '../plan/service-selection.js';
import { planHash } from '../engine/plan-hash.js';

/**
 * "Nothing left to do" is read from the journal: true only while no other command of the
 * split runs. A rollback holding the lock is undoing it at that moment (exit 5, naming it).
 */
async function notLockedNow(controlUrl: string, name: string): Promise<void> {
  const lock = await SplitLock.acquire(controlUrl, name);
  await lock.release();
  await noUnfinishedRollback(controlUrl, name);
}

/** A rollback killed half-way: the split is neither applied nor rolled back, and only rollback run again finishes it. */
async function noUnfinishedRollback(controlUrl: string, name: string): Promise<void> {
  // Read only: a control database that does not exist yet holds no rollback (and apply --dry-run makes none).
  const journal = await openJournalIfExists(controlUrl);
  if (!journal) return;
  try {
    const startedAt = await unfinishedRollback(journal, name);
    if (startedAt !== null) {
      throw new BadInputError(
        `a rollback of split ${name} started at ${startedAt} and did not finish: the split is partly undone (nothing was changed now)`,
        'run `cloudphone-split rollback` again to finish it; then apply starts the split afresh',
      );
    }
  } finally {
    await journal.close();
  }
}

/** The servers of a plan, expanded from its own manifest text (what was reviewed is what runs). */
export function planServers(plan: Plan, env: NodeJS.ProcessEnv, manifestFile: string) {
  const manifest = parseManifest(plan.manifest.text, manifestFile);
  const literal = literalSecretProblems(manifest, manifestFile);
  if (literal.length > 0) throw new ManifestError(literal);
  const missing = missingVariables(manifest, env, manifestFile);
  if (missing.length > 0) throw new ManifestError(missing);
  const connection = (template: string, where: string) => manifestConnection(manifest, where, template, env, manifestFile);
  const servers: Record<string, string> = { source: connection(manifest.source.url, 'source.url') };
  for (const [name, url] of Object.entries(manifest.servers)) servers[name] = connection(url, `servers.${name}`);
  const controlUrl = controlUrlFor(servers.source!, manifest.control ? connection(manifest.control.url, 'control.url') : null);
  return { manifest, servers, controlUrl, secrets: secretsOf(manifest, env) };
}

/**
 * Re-reads the source and refuses a plan whose tables changed since it was made (exit 4).
 * `live`: the source's catalog when the caller has just read it (apply planning from the
 * manifest reads it once, for the plan and for this check). Returns the catalog it checked.
 */
export async function checkFingerprint(plan: Plan, sourceUrl: string, schemas: string[], live?: Catalog): Promise<Catalog> {
  const catalog = live ?? (await readLiveCatalog(sourceUrl, schemas));
  const present = new Map(catalog.tables.map((t) => [`${t.schema}.${t.name}`, t]));
  const changed: string[] = [];
  for (const [key, fp] of Object.entries(plan.tableFingerprints)) {
    const table = present.get(key);
    if (!table) changed.push(`${key} (gone)`);
    // Marked as this split's backup by its own schedule_retention, the last step: everything the plan does with it is done.
    else if (isTableRetentionComment(table.comment, plan.name)) continue;
    else if (tableFingerprint(catalog, key) !== fp) changed.push(key);
  }
  // A partition added since (GitLab-style dynamic partitions): its rows would not be copied.
  for (const t of catalog.tables) {
    const key = `${t.schema}.${t.name}`;
    const parent = t.partitionOf ? `${t.partitionOf.parent.schema}.${t.partitionOf.parent.name}` : null;
    if (parent !== null && !(key in plan.tableFingerprints) && parent in plan.tableFingerprints) changed.push(`${key} (new partition of ${parent})`);
  }
  if (changed.length > 0) {
    throw new StalePlanError(
      `the source schema changed since the plan was made: ${changed.slice(0, 10).join(', ')}${changed.length > 10 ? ` and ${changed.length - 10} more` : ''}`,
      'make a new plan (cloudphone-split plan) and review it; nothing was changed',
    );
  }
  return catalog;
}

/**
 * Refuses (exit 4) a plan that moves, copies or reads a table that another split of the
 * same source moved since the plan was made (SPEC §7), and a plan that leaves alone, as
 * moved, a table whose split was rolled back since: re-read now, from the journal and
 * from the fences in the source. `started`: this plan's run began already.
 */
export async function checkEarlierWaves(plan: Plan, catalog: Pick<Catalog, 'database' | 'fences'>, controlUrl: string, sourceUrl: string, started = false): Promise<void> {
  const records = await readWaveRecords(controlUrl, plan.name);
  const moved = earlierWaves(records, catalog.fences ?? [], { split: plan.name, database: catalog.database, ...(await readSourceIdentity(sourceUrl)) });
  refuseRetiringOverMoving(moved, plan.name, plan.steps.some((s) => s.kind === 'schedule_retention' && s.retire));
  const problems = movedSincePlan(plan, moved);
  if (problems.length > 0) {
    const read = tablesPlanReads(plan);
    const moving = [...new Set(moved.filter((m) => m.state === 'moving' && read.has(m.table)).map((m) => m.split))];
    throw new StalePlanError(
      `another split moved tables of this plan since it was made: ${problems.slice(0, 10).join('; ')}${problems.length > 10 ? ` and ${problems.length - 10} more` : ''}`,
      moving.length > 0
        ? `split ${moving.join(', ')} is moving them now: let it finish (or roll it back: cloudphone-split rollback with its manifest), then make a new plan (cloudphone-split plan); nothing was changed`
        : 'make a new plan (cloudphone-split plan): it leaves the tables earlier splits moved alone; nothing was changed',
    );
  }
  const back = rolledBackSincePlan(plan, moved);
  if (back.length > 0) {
    throw new StalePlanError(
      `another split of the source was rolled back since this plan was made: ${back.join('; ')}`,
      started
        ? `this split's run started with that plan: roll it back (cloudphone-split rollback), then make a new plan and apply it; nothing was changed now`
        : 'make a new plan (cloudphone-split plan) and review it: it sees those tables back in the source, with their foreign keys; nothing was changed',
    );
  }
}

export interface ApplyRunOptions {
  manifest: string;
  /** Nothing will be changed: the plan made from the manifest is not written either. */
  dryRun?: boolean;
  /** `--service`: only these services' steps (checked to be services of the plan). */
  services?: string[];
}

/** A plan ready to run: checked for blocking problems and against the live source. */
export interface PreparedApply {
  plan: Plan;
  manifestFile: string;
  manifest: Manifest;
  servers: Record<string, string>;
  controlUrl: string;
  /**
   * The manifest is the one of a split that finished: its plan was taken from the
   * journal (planning again would not match the files it already repointed).
   */
  finished: boolean;
  /** Services whose every apply step the journal records as done (all of them when `finished`). */
  applied: string[];
  /** The split's unfinished run of this very plan is resumed (checked against other splits as such). */
  resumed?: boolean;
}

/**
 * Reads the plan file (or plans from the manifest, as `plan` would, and writes the plan
 * file unless it is a dry run), expands its servers, refuses a blocked plan (exit 1)
 * and a stale one (exit 4). Changes nothing on any server.
 */
export async function prepareApply(planFile: string | undefined, opts: ApplyRunOptions, env: NodeJS.ProcessEnv, reporter: Reporter): Promise<PreparedApply> {
  let plan: Plan;
  let manifestFile: string;
  /** The source's catalog when this call planned from it. */
  let catalog: Catalog | undefined;
  /** Where the plan made from the manifest goes: written only once every check below passed (a refused plan overwrote the applied one's file). */
  let planFileToWrite: string | null = null;
  if (planFile) {
    plan = await readPlanFile(planFile);
    manifestFile = resolvePath(dirname(resolvePath(planFile)), plan.manifest.path);
    // The plan is what was reviewed: its own copy of the manifest is used, and an edit made since only said.
    const onDisk = await readFile(manifestFile, 'utf8').catch(() => null);
    if (onDisk !== null && onDisk !== plan.manifest.text) {
      reporter.warn(`warning: ${manifestFile} changed since this plan was made; apply runs the plan as it was reviewed (the manifest as it was then): make a new plan (cloudphone-split plan) to apply the changes`);
    }
  } else {
    const split = await loadSplit(opts.manifest, env, { source: true });
    const finished = await finishedPlanOf(split.manifest.name, split.text, controlUrlFor(split.servers.source!, split.controlUrl));
    if (finished?.complete) {
      const { manifest, servers, controlUrl, secrets } = planServers(finished.plan, env, split.file);
      for (const s of secrets) reporter.secrets.add(s);
      if (opts.services) checkServiceNames(finished.plan, opts.services);
      await notLockedNow(controlUrl, finished.plan.name);
      return { plan: finished.plan, manifestFile: split.file, manifest, servers, controlUrl, finished: true, applied: finished.plan.services.map((s) => s.name) };
    }
    if (finished) {
      // Applied for some services (`apply --service`): the rest runs the same plan.
      plan = finished.plan;
      manifestFile = split.file;
    } else {
      const interrupted = await interruptedRunOf(split.manifest.name, controlUrlFor(split.servers.source!, split.controlUrl));
      const ownRun = interrupted !== null && interrupted.plan.manifest.text === split.text;
      // Planning again may fail where the run went on: a `replace:` entry's text is gone from the file it repointed.
      const made = await makePlan({ manifestFile: opts.manifest, env, planFile: defaultPlanFile(opts.manifest, 'plan') }).catch((err: unknown) => {
        if (ownRun) return null;
        throw err;
      });
      manifestFile = split.file;
      if (interrupted && ownRun && (made === null || !amendsPlan(interrupted.plan, made.plan, interrupted.done))) {
        // A run of this manifest that did not finish: the same command resumes it with its own plan (planning
        // again saw what the run made); only a plan that just amends its config steps (a file edited since) replaces it.
        plan = interrupted.plan;
        if (!opts.dryRun) planFileToWrite = defaultPlanFile(opts.manifest, plan.name);
      } else {
        // made is null only for this manifest's own run, taken above.
        plan = made!.plan;
        catalog = made!.catalog;
        // The plan file of an unfinished run of another manifest is what finishes that run: it is kept.
        const other = interrupted !== null && interrupted.plan.manifest.text !== split.text;
        if (!opts.dryRun && !other) planFileToWrite = defaultPlanFile(opts.manifest, plan.name);
      }
    }
  }
  const { manifest, servers, controlUrl, secrets } = planServers(plan, env, manifestFile);
  for (const s of secrets) reporter.secrets.add(s);
  if (opts.services) checkServiceNames(plan, opts.services);
  if (plan.errors.length > 0) {
    throw new PlanBlockedError(`the plan has ${plan.errors.length} blocking problem(s):\n  ${plan.errors.join('\n  ')}`, 'fix the manifest and plan again');
  }
  const partial = await lastSucceededPlan(plan.name, controlUrl);
  if (partial?.complete && planHash(partial.plan) === planHash(plan)) {
    // Its plan file, given again once the split is done (a Job run again, after prune too): nothing is left to do,
    // as with the manifest; the source, whose tables are fenced backups or pruned, is not compared with the plan.
    await notLockedNow(controlUrl, plan.name);
    return { plan, manifestFile, manifest, servers, controlUrl, finished: true, applied: plan.services.map((s) => s.name) };
  }
  if (partial?.complete && planHash(partial.plan) !== planHash(plan)) {
    // Its tables are fenced backups now and its databases in use: a new plan would create, fence and copy over them.
    throw new BadInputError(
      `split ${plan.name} is applied, with another plan: its databases are in use and its tables are fenced backups in the source, so a new plan is never applied over it (nothing was changed)`,
      'nothing is left to do if the split is as wanted (`cloudphone-split status`); to change it, roll it back first (`cloudphone-split rollback`), or move more tables as a new split with its own name (a wave)',
    );
  }
  if (partial && !partial.complete && planHash(partial.plan) !== planHash(plan)) {
    const applied = appliedServices(partial.plan, partial.done);
    throw new BadInputError(
      `split ${plan.name} is applied for ${applied.length ? applied.join(', ') : 'part of its steps'} only, with another plan: the rest must run that plan`,
      'apply the rest with the manifest (or plan file) the first services were applied with, or roll them back (`cloudphone-split rollback --service ...`) before applying a new plan',
    );
  }
  await noUnfinishedRollback(controlUrl, plan.name);
  await refuseRetiredSource(servers.source!, plan.name);
  // Tables another split moved since are named as such first (their fence and mark change their fingerprint too).
  const live = catalog ?? (await readLiveCatalog(servers.source!, manifest.source.schemas));
  refuseRetiringOverUnfinished(live, plan.name, manifest.source.retire);
  const resumed = partial !== null && planHash(partial.plan) === planHash(plan);
  await checkEarlierWaves(plan, live, controlUrl, servers.source!, resumed);
  // A plan made just now from this very catalog matches it by construction: its fingerprints are not taken again.
  if (catalog === undefined) await checkFingerprint(plan, servers.source!, manifest.source.schemas, live);
  if (planFileToWrite !== null) await writePlanFile(planFileToWrite, plan);
  const applied = partial && resumed ? appliedServices(plan, partial.done) : [];
  return { plan, manifestFile, manifest, servers, controlUrl, finished: false, applied, resumed };
}

/** Records which source the split runs against (database and server identity): how later waves know it is theirs. */
async function recordSource(journal: Journal, pools: Pools, plan: Plan): Promise<void> {
  const client = await pools.client('source');
  let id: string | null;
  let oid: string | undefined;
  try {
    id = await systemIdentifier(client);
    oid = (await client.query<{ oid: string }>(`SELECT oid::text AS oid FROM pg_database WHERE datname = current_database()`)).rows[0]?.oid;
  } finally {
    await client.end();
  }
  if (id !== null) {
    await journal.setFact(plan.name, SOURCE_FACT, { database: plan.source.database, systemIdentifier: id, ...(oid ? { databaseOid: oid } : {}) } satisfies SourceFact);
  }
}

export interface ExecuteOptions {
  jobs?: number;
  indexWorkers?: number;
  /** The clock used for retention (tests, the demo). */
  now?: Date;
  progress: ProgressSink;
  /** `--service`: run only these services' steps (and the shared steps they need). */
  services?: string[];
  /** Told which steps the run selected, before the first one starts. */
  onSelection?: (selection: ServiceSelection) => void;
}

/** What a run of the apply phase did. */
export interface ApplySummary extends RunSummary {
  /** Set for `--service`: what was selected. */
  selection?: ServiceSelection;
}

/** Runs the apply phase of a prepared plan under the split's lock, with the journal. Ctrl-C stops starting steps. */
export async function executeApply(prepared: PreparedApply, opts: ExecuteOptions, env: NodeJS.ProcessEnv, reporter: Reporter): Promise<ApplySummary> {
  const { plan, servers, controlUrl, manifestFile } = prepared;
  const jobs = Math.max(1, opts.jobs ?? availableParallelism());
  // The journal first: it creates the control database the lock lives in.
  const journal = await Journal.open(controlUrl);
  const lock = await SplitLock.acquire(controlUrl, plan.name).catch(async (err: unknown) => {
    await journal.close();
    throw err;
  });
  const pools = new Pools(servers, jobs * 2 + 2);
  const snapshot = new SnapshotHolder(() => pools.client('source'));
  const abort = new AbortController();
  const onSigint = () => {
    reporter.warn('\nInterrupted: finishing the running steps, then stopping (rerun apply to resume).');
    abort.abort();
  };
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigint);
  let claim: SourceClaim | undefined;
  try {
    // Checked again between the claim and the run's record (waves/source-claim.ts): another split's apply started meanwhile is seen.
    claim = await SourceClaim.acquire(controlUrl, plan.source.database, plan.name);
    await checkEarlierWaves(plan, { database: plan.source.database, fences: await sourceFences(pools) }, controlUrl, servers.source!, prepared.resumed === true);
    const done = new Set((await journal.doneSteps(plan.name, planHash(plan))).keys());
    // Before the run is recorded: a first run refused here leaves no failed run behind (one a later rollback of another wave would read).
    await refuseRejectedServerLogins(prepared.manifest, servers, plan.steps.some((s) => s.kind === 'preflight' && done.has(s.id)));
    await refuseChangedRolePasswords(plan, done, servers, env);
    await recordSource(journal, pools, plan);
    let selection: ServiceSelection | undefined;
    if (opts.services) {
      // Decided under the lock, from what the journal records as done.
      selection = selectServices(plan, opts.services, new Set((await journal.doneSteps(plan.name, planHash(plan))).keys()));
      opts.onSelection?.(selection);
    }
    const chosen = selection?.steps;
    const summary = await runPlan({
      plan,
      handlers,
      pools,
      journal,
      jobs,
      ...(opts.indexWorkers !== undefined ? { indexWorkers: opts.indexWorkers } : {}),
      env,
      baseDir: dirname(manifestFile),
      progress: opts.progress,
      signal: abort.signal,
      now: opts.now ? () => opts.now! : () => new Date(),
      snapshot: () => snapshot.id(),
      lock,
      onStarted: () => claim!.release(),
      // Online plans: the cutover steps are run by `cutover`.
      only: (s) => (s.phase ?? 'apply') === 'apply' && (chosen === undefined || chosen.has(s.id)),
      ...(selection ? { waived: selection.waived } : {}),
    });
    return selection ? { ...summary, selection } : summary;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    await snapshot.close().catch(() => undefined);
    await pools.end();
    await journal.close().catch(() => undefined);
    await lock.release().catch(() => undefined);
    // Last: an apply waiting for the claim must not see this one's lock as a live run that it is not.
    await claim?.release().catch(() => undefined);
  }
}

/** The source's fences now (each split's, with where its rows went). */
async function sourceFences(pools: Pools): Promise<FencedTable[]> {
  const client = await pools.client('source');
  try {
    return await readFencedTables(client);
  } finally {
    await client.end();
  }
}
