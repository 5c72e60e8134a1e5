import { Pools } from '../pg/pools.js';
import { dropReplication } from '../online/drop-replication.js';
import type { Journal } from '../engine/journal.js';
import type { CreatedObject } from '../steps/handler.js';
import { BadInputError, DifferenceError, PlanBlockedError, ServerError, StepFailedError } from '../errors.js';
import { isConnectionLoss } from '../pg/connection-loss.js';
import { restoreConfigFiles } from '../config/restore.js';
import { databaseOf } from '../conn/connection.js';
import { databaseClient, maintenanceClient, sameDatabase } from '../retention/maintenance-client.js';
import { readRetentionDetail } from '../retention/retention-detail.js';
import { isEmpty, readInventory, type RollbackInventory } from './rollback-inventory.js';
import { changedTargets } from './target-check.js';
import { identityRefusals } from './identity-check.js';
import { fencedTables, liftBackupMark, removeFence, restoreTableComments } from './source-restore.js';
import { dropCreated, reopenClosed, type Dropped, type DropFailure, type DropRecheck } from './drop-created.js';
import { restartServices, type RestartResult } from './restart-services.js';
import { refuseReverse, reverseState, runReversePhase } from './reverse-rollback.js';
import { keysToMoved, sourceOrphanWarnings } from './source-orphans.js';
import type { ProgressSink } from '../steps/handler.js';
import type { FenceTargetStep, Plan } from '../plan/model.js';
import { SourceSinceCutover, copiedBackTables, copiesOf, sourceWrittenError, type SourceChange } from './source-since-cutover.js';
import { movedTablesOf, newPartitionsError, partitionsSinceCutover, treeFacts, type NewPartition } from './target-partitions.js';
import { describeDependent, waveDependents } from '../waves/wave-dependents.js';
import { readCrossWaveKeys } from '../waves/cross-wave-keys.js';

export interface RollbackOptions {
  journal: Journal;
  split: string;
  /** Server name → expanded URL; "source" is the source database's URL. */
  servers: Record<string, string>;
  controlUrl: string;
  /** The manifest's folder: config paths are relative to it. */
  baseDir: string;
  env: NodeJS.ProcessEnv;
  secrets: Iterable<string>;
  /** Shown what rollback will do, before any change; false stops it with nothing changed. */
  confirm(preview: RollbackPreview): Promise<boolean>;
  /** Progress of a rollback through reverse replication (its steps run like cutover's); default: none shown. */
  progress?: ProgressSink;
  /** Aborted (Ctrl-C): a rollback through reverse replication starts no further step. */
  signal?: AbortSignal;
  /**
   * After an online cutover: tables copied at cutover (not reverse-replicated) whose source
   * rows rollback may replace with the target's although they were written behind the
   * fence since (`--discard-source-writes`); any other such table refuses the rollback.
   */
  discardSourceWrites?: readonly string[];
}

/** What rollback is about to do. */
export interface RollbackPreview {
  split: string;
  source: string;
  databases: Array<{ server: string; name: string }>;
  /** Databases that existed (empty) before the split: kept, emptied of what the split's roles own. */
  adopted: Array<{ server: string; name: string }>;
  roles: Array<{ server: string; name: string }>;
  configFiles: string[];
  fenceTables: number;
  liftBackup: boolean;
  /** Moved tables whose backup comment is taken off (a split without source.retire). */
  tableMarks: number;
  restarts: Array<{ service: string; command: string }>;
  /** Target tables compared with the journal (0 when the split had not repointed anything). */
  checkedTables: number;
  /**
   * After an online cutover: the service databases whose writes reverse replication
   * brings back; they are fenced and kept, never dropped.
   */
  reverse?: Array<{ server: string; name: string }>;
  /** `rollback --service`: only these services are rolled back. */
  services?: string[];
  /** Foreign keys the source keeps between the tables given back and other splits' fenced backups (waves), each with its effect. */
  crossWaveKeys?: string[];
}

export interface RollbackReport {
  name: string;
  state: 'nothing-to-do' | 'cancelled' | 'rolled-back';
  preview: RollbackPreview | null;
  dropped: { databases: Dropped[]; roles: Dropped[]; replication?: string[] };
  kept: {
    /** Databases that existed before the split (adopted): never dropped. */
    databases: Array<{ server: string; name: string; reason: string }>;
    /** Objects of online mode, left alone. */
    other: Array<{ kind: string; server: string; name: string }>;
  };
  restored: {
    configFiles: string[];
    unchangedConfigFiles: string[];
    readOnlyLifted: boolean;
    grants: string[];
    commentRestored: boolean;
    /** Moved tables whose comment was put back (a split without source.retire). */
    tableComments: number;
    fenceRemovedFrom: number;
    /** Tables of the source still fenced afterwards, by other splits of it (earlier waves): they stay read-only. */
    stillFenced: string[];
  };
  restarts: RestartResult[];
  /** Databases and roles that could not be dropped (a rerun of rollback tries them again). */
  problems: DropFailure[];
  warnings: string[];
}

const names = (list: CreatedObject[]) => list.map((o) => ({ server: o.server, name: o.name }));

export function emptyReport(split: string): RollbackReport {
  return {
    name: split,
    state: 'nothing-to-do',
    preview: null,
    dropped: { databases: [], roles: [] },
    kept: { databases: [], other: [] },
    restored: { configFiles: [], unchangedConfigFiles: [], readOnlyLifted: false, grants: [], commentRestored: false, tableComments: 0, fenceRemovedFrom: 0, stillFenced: [] },
    restarts: [],
    problems: [],
    warnings: [],
  };
}

async function sourceExists(url: string): Promise<boolean> {
  const db = databaseOf(url);
  const admin = await maintenanceClient(url, [db]);
  try {
    return ((await admin.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [db])).rowCount ?? 0) > 0;
  } finally {
    await admin.end().catch(() => undefined);
  }
}

/**
 * Refuses (exit 1, nothing changed) when a database or role rollback would drop cannot
 * be proved to be the one the split created (server identity and OID, recorded after
 * creation), or when any database the split created or adopted, with or without
 * tables, holds something that was not there after the copy: dropping it would lose
 * those rows. Checked whether or not the config was repointed: a row written to a
 * new database exists nowhere else.
 */
export async function checkTargets(
  inv: Pick<RollbackInventory, 'databases' | 'adopted' | 'roles' | 'baselines' | 'targets'>,
  servers: Record<string, string>,
): Promise<{ checked: number; notes: string[] }> {
  const refusals = await identityRefusals(servers, [...inv.databases, ...inv.adopted, ...inv.roles]);
  if (refusals.length > 0) {
    throw new DifferenceError(
      `rollback cannot prove that ${refusals.length === 1 ? 'this object is' : 'these objects are'} the split's own, so nothing was changed:\n  ` +
        refusals.map((r) => `${r.kind} ${r.name} on server ${r.server}: ${r.reason}`).join('\n  '),
      'check the manifest\'s server URLs (they must name the servers the split ran on); an object the split did not create is yours to drop by hand',
    );
  }
  const notes = await reopenClosed(servers, inv.databases);
  const { changes, checked } = await changedTargets(servers, inv.baselines, inv.targets);
  if (changes.length > 0) {
    throw new DifferenceError(
      notes.map((n) => `${n}\n`).join('') +
      `${changes.length} change${changes.length === 1 ? '' : 's'} in the target databases since the copy, so rolling back would lose ${changes.length === 1 ? 'it' : 'them'}; nothing was changed:\n  ` +
        changes.map((c) => (c.table === '*' ? `${c.database}: ${c.change}` : `${c.database}: ${c.table}: ${c.change}`)).join('\n  '),
      sequencesOnlyFix(changes) ?? 'the services already write to the new databases: keep the split, or move those writes back to the old database before rolling back',
    );
  }
  return { checked, notes };
}

/**
 * When the only changes are sequences that gave out values (an INSERT that failed or was
 * rolled back draws one too), no row is at stake: the fix says how to set each back, with
 * the value it had then, rather than that the services write there. Null otherwise.
 */
export function sequencesOnlyFix(changes: ReadonlyArray<{ database: string; change: string }>): string | null {
  const seq = /^sequence (\S+) gave out values since the copy \(last value (-?\d+|unused) then, \S+ now\)$/;
  const found = changes.map((c) => ({ database: c.database, m: seq.exec(c.change) }));
  if (found.length === 0 || found.some((f) => f.m === null)) return null;
  const sets = found.map(({ database, m }) => `in ${database}: ${m![2] === 'unused' ? `ALTER SEQUENCE ${m![1]} RESTART` : `SELECT setval('${m![1]!.replaceAll("'", "''")}', ${m![2]})`}`);
  return (
    'no row changed, only sequences moved on (an INSERT that failed or was rolled back draws a value too): if nothing uses the values they gave out, ' +
    `set each back and run rollback again (${sets.join('; ')}); if a service did write there, keep the split`
  );
}

/**
 * The data check of one database again, right before its drop (drop-created.ts ends every
 * other session in it first): its baselines and planned tables, as checkTargets reads them.
 */
export function recheckBeforeDrop(inv: Pick<RollbackInventory, 'baselines' | 'targets'>, servers: Record<string, string>): DropRecheck {
  return async (o, client) => {
    const same = <T extends { server: string; database: string }>(t: T) => t.server === o.server && t.database === o.name;
    const targets = inv.targets.filter(same);
    const { changes } = await changedTargets(
      servers,
      inv.baselines.filter(same),
      targets.length > 0 ? targets : [{ server: o.server, database: o.name, planned: [] }],
      { server: o.server, database: o.name, client },
    );
    return changes.map((c) => (c.table === '*' ? c.change : `${c.table}: ${c.change}`));
  };
}

/** The source's foreign keys between the tables a rollback unfences and the fenced backups that stay (see cross-wave-keys.ts). */
export async function crossWaveKeysOf(sourceUrl: string, tables: string[]): Promise<string[]> {
  const client = await databaseClient(sourceUrl, databaseOf(sourceUrl));
  try {
    return await readCrossWaveKeys(client, tables);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Refuses (exit 1, nothing changed) to roll back a wave that a later split of the same
 * source depends on (SPEC §7): it copied the wave's tables or filled columns from them.
 */
async function refuseDependents(journal: Journal, split: string): Promise<void> {
  const all = await journal.splits(null);
  const own = all.find((s) => s.split === split);
  if (!own) return;
  const dependents = waveDependents(own, all);
  if (dependents.length === 0) return;
  const later = [...new Set(dependents.map((d) => d.split))];
  throw new DifferenceError(
    `split ${split} cannot be rolled back: ${later.length === 1 ? 'a later split depends' : 'later splits depend'} on the tables it moved, so nothing was changed:\n  ${dependents.map(describeDependent).join('\n  ')}`,
    `roll back ${later.map((l) => `split ${l}`).join(', ')} first (cloudphone-split rollback -m <its manifest>), then this one`,
  );
}

/**
 * `rollback` (SPEC §5): undoes what the journal says the split did. Before the config
 * was repointed: drops the databases and roles it created and removes the fence (and
 * lifts the backup mark if retention was scheduled). After it: the same, plus the
 * config files restored byte for byte and the restart commands run again, but only
 * when no target table changed since the copy. Order: every check first (nothing
 * changed on refusal), then config, then the old database back to read-write and
 * unfenced, then restarts, then the drops. The journal is marked rolled back, so the
 * next apply starts from scratch. Running it again finishes an interrupted rollback.
 */
/**
 * The checks made before rollback changes anything: a server that does not answer then
 * stops it with exit 3, saying that nothing was changed and what to do.
 */
export async function beforeAnyChange<T>(check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (err) {
    if (!(err instanceof ServerError) && !isConnectionLoss(err)) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new ServerError(`${message}; rollback changed nothing`, 'run rollback again once the server answers', { cause: err });
  }
}

/** The journal fact of a rollback that started changing things and has not finished (its start time). */
export const UNFINISHED_ROLLBACK = 'rollback-unfinished';

/** When a rollback of the split started changing things and did not finish, or null. */
export async function unfinishedRollback(journal: Journal, split: string): Promise<string | null> {
  const fact = (await journal.getFact<{ startedAt?: string }>(split, UNFINISHED_ROLLBACK)) ?? null;
  return fact?.startedAt ?? null;
}

export async function rollbackSplit(opts: RollbackOptions): Promise<RollbackReport> {
  const { journal, split, servers } = opts;
  const report = emptyReport(split);
  const inv = await readInventory(journal, split);
  report.kept.other = inv.other.map((o) => ({ kind: o.kind, server: o.server, name: o.name }));
  if (inv.retention?.state === 'pruned' && readRetentionDetail(inv.retention.detail)?.retire === false) {
    throw new BadInputError(
      `the moved tables split ${split} kept in ${inv.retention.database} were dropped by \`retention prune\`: it can no longer be rolled back`,
      'restore them from their archive (retention.archive) if one was written',
    );
  }
  if (inv.retention?.state === 'pruned') {
    throw new BadInputError(
      `the old database ${inv.retention.database} was dropped by \`retention prune\`: split ${split} can no longer be rolled back`,
      'restore it from its archive (retention.archive) if one was written',
    );
  }
  await refuseDependents(journal, split);
  const via = reverseState(inv.plan, await journal.doneSteps(split));
  refuseReverse(split, via);
  if (via === 'running' && inv.plan) return rollbackThroughReverse(opts, inv, report);
  if (opts.discardSourceWrites?.length) {
    throw new BadInputError(
      `--discard-source-writes applies to a rollback after an online cutover only: split ${split} is not cut over (it never was, or was rolled back since), so rollback replaces no source rows`,
      'run rollback without it',
    );
  }
  if (isEmpty(inv)) {
    await journal.markRolledBack(split);
    await journal.deleteFact(split, UNFINISHED_ROLLBACK);
    return report;
  }
  const sourceUrl = servers.source;
  if (!sourceUrl) throw new BadInputError('source.url is not set');
  const sourceDb = databaseOf(sourceUrl);
  if ((inv.fence || inv.prior || inv.tableMarks) && !(await beforeAnyChange(() => sourceExists(sourceUrl)))) {
    throw new BadInputError(`the source database ${sourceDb} no longer exists: there is nothing to roll back to`, 'check source.url in the manifest');
  }
  const { checked, notes } = await beforeAnyChange(() => checkTargets(inv, servers));
  report.warnings.push(...notes);
  const unfenced = Array.isArray(inv.fence?.detail?.tables) ? (inv.fence.detail.tables as unknown[]).filter((t): t is string => typeof t === 'string') : [];
  const crossWave = unfenced.length > 0 ? await beforeAnyChange(() => crossWaveKeysOf(sourceUrl, unfenced)) : [];
  report.warnings.push(...crossWave);
  const preview: RollbackPreview = {
    split,
    source: sourceDb,
    databases: names(inv.databases),
    adopted: names(inv.adopted),
    roles: names(inv.roles),
    configFiles: [...new Set(inv.configBackups.map((b) => b.file))],
    fenceTables: Array.isArray(inv.fence?.detail?.tables) ? inv.fence.detail.tables.length : 0,
    liftBackup: inv.prior !== null,
    tableMarks: inv.tableMarks?.tables.length ?? 0,
    restarts: inv.restarts,
    checkedTables: checked,
    ...(crossWave.length > 0 ? { crossWaveKeys: crossWave } : {}),
  };
  report.preview = preview;
  if (!(await opts.confirm(preview))) {
    report.state = 'cancelled';
    return report;
  }
  // Recorded before the first change: a rollback killed half-way leaves the split neither applied nor rolled back,
  // and status and apply say so (run rollback again), where the runs alone still read "succeeded".
  await journal.setFact(split, UNFINISHED_ROLLBACK, { startedAt: new Date().toISOString() });

  if (inv.configBackups.length > 0) {
    const restored = await restoreConfigFiles(opts.baseDir, { files: inv.configBackups });
    if (restored.problems.length > 0) {
      // All or nothing: no file was written, so nothing is undone yet.
      await journal.deleteFact(split, UNFINISHED_ROLLBACK);
      throw new DifferenceError(
        `config files changed since the split repointed them, so nothing was changed:\n  ${restored.problems.map((p) => `${p.file}: ${p.problem}`).join('\n  ')}`,
        'put back what the split wrote in those files (or restore them by hand from the plan\'s diff), then run rollback again',
      );
    }
    report.restored.configFiles = restored.restored;
    report.restored.unchangedConfigFiles = restored.unchanged;
    for (const o of inv.config) await journal.forgetCreated(split, o);
  }

  if (inv.fence || inv.prior || inv.tableMarks) {
    const client = await databaseClient(sourceUrl, sourceDb);
    try {
      if (inv.prior) {
        const lifted = await liftBackupMark(client, sourceDb, split, inv.prior);
        report.restored.readOnlyLifted = lifted.readOnlyLifted;
        report.restored.grants = lifted.grants;
        report.restored.commentRestored = lifted.commentRestored;
        report.warnings.push(...lifted.warnings);
        if (inv.retention) await journal.updateRetention(inv.retention.id, { state: 'restored' });
        await journal.forgetCreated(split, { kind: 'retention', server: 'source', name: sourceDb });
      }
      if (inv.tableMarks) {
        const marks = await restoreTableComments(client, inv.tableMarks);
        report.restored.tableComments = marks.restored;
        report.warnings.push(...marks.warnings);
        if (inv.retention) await journal.updateRetention(inv.retention.id, { state: 'restored' });
      }
      if (inv.fence) {
        const tables = Array.isArray(inv.fence.detail?.tables) ? (inv.fence.detail.tables as unknown[]).filter((t): t is string => typeof t === 'string') : [];
        await removeFence(client, tables, sameDatabase(opts.controlUrl, sourceUrl, sourceDb), split);
        report.restored.fenceRemovedFrom = tables.length;
        await journal.forgetCreated(split, inv.fence);
      }
      report.restored.stillFenced = await fencedTables(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  report.restarts = await restartServices(inv.restarts, opts.baseDir, opts.env, opts.secrets);
  const forget = (o: CreatedObject) => journal.forgetCreated(split, o);
  if (inv.other.length > 0) {
    // Online mode: a database holding a subscription cannot be dropped, and a slot left
    // on the source would pin its WAL forever. Subscriptions, slots, publications first.
    const plan = await journal.lastPlan(split);
    const pools = new Pools(servers, 2);
    try {
      if (plan) report.dropped.replication = (await dropReplication(pools, plan)).dropped;
    } finally {
      await pools.end();
    }
    for (const o of inv.other) await forget(o);
  }
  const gone = await dropCreated(servers, inv, forget, (message) => opts.progress?.emit({ type: 'log', level: 'warn', message }), recheckBeforeDrop(inv, servers));
  report.kept.databases = gone.keptDatabases;
  report.dropped = { ...report.dropped, databases: gone.databases, roles: gone.roles };
  report.problems = gone.problems;
  // A database kept for the data written to it after the check: the run stays as it is, so a rerun compares it with the same baselines.
  if (report.problems.some((p) => p.holdsData)) {
    report.state = 'rolled-back';
    return report;
  }
  await journal.markRolledBack(split);
  await journal.deleteFact(split, UNFINISHED_ROLLBACK);
  report.state = 'rolled-back';
  return report;
}

/**
 * Before anything changes: the tables cutover copied and rollback copies back, compared
 * on the source with what they held at cutover (copy_back checks again, holding each
 * table's lock, when it acts). Refused with exit 1 naming every table written behind
 * the fence since, unless `--discard-source-writes` names it; a name there that rollback
 * does not copy back is bad input. Returns the tables the user let it replace.
 */
async function checkSourceSinceCutover(opts: RollbackOptions, plan: Plan): Promise<ReadonlySet<string>> {
  const allowed = new Set(copiedBackTables(plan));
  const discard = new Set(opts.discardSourceWrites ?? []);
  const unknown = [...discard].filter((t) => !allowed.has(t));
  if (unknown.length > 0) {
    const meant = unknown.flatMap((u) => [...allowed].filter((a) => !u.includes('.') && a.endsWith(`.${u}`)));
    throw new BadInputError(
      `--discard-source-writes names ${unknown.join(', ')}, which rollback does not copy back into the source (reverse replication carries the other tables)`,
      allowed.size === 0
        ? 'this split copies no table back: run rollback without it'
        : `${meant.length > 0 ? `name tables with their schema (${meant.join(', ')}); ` : ''}the tables it copies back: ${[...allowed].join(', ')}`,
    );
  }
  if (allowed.size === 0) return discard;
  const source = await databaseClient(opts.servers.source!, databaseOf(opts.servers.source!));
  try {
    // A copy_back done by an interrupted rollback already put the target's rows there: only the others are compared.
    const since = await SourceSinceCutover.prepare(source, copiesOf(plan, await opts.journal.doneSteps(opts.split), undefined, { pending: true }));
    const changes: SourceChange[] = [];
    for (const table of since.tables) {
      if (discard.has(table)) continue;
      const what = await since.changed(source, table);
      if (what !== null) changes.push({ table, what });
    }
    if (changes.length > 0) throw sourceWrittenError(opts.split, plan.source.database, changes, false);
  } finally {
    await source.end().catch(() => undefined);
  }
  return discard;
}

/**
 * Rollback after an online cutover carries the new databases' rows into the source's
 * partitions (reverse replication through each root, copy_back leaf by leaf): a partition
 * made in a new database since cutover (a service's job making next month's partition),
 * holding rows, that the source has no partition of that name for would leave them behind.
 * Refused (exit 1) before anything changes, naming each with the statement that makes it
 * in the source; copy_back checks again when it acts. A replicated tree whose source has a
 * DEFAULT partition takes such rows there and is not refused.
 */
async function checkPartitionsSinceCutover(opts: RollbackOptions, plan: Plan): Promise<void> {
  const source = await databaseClient(opts.servers.source!, databaseOf(opts.servers.source!));
  const missing: NewPartition[] = [];
  try {
    for (const svc of plan.services) {
      const roots = svc.tables.map((t) => t.name);
      if (roots.length === 0 || opts.servers[svc.server] === undefined) continue;
      const target = await databaseClient(opts.servers[svc.server]!, svc.database, 'target');
      try {
        const since = await partitionsSinceCutover(source, target, svc.database, roots, movedTablesOf(plan, svc.database));
        const facts = await treeFacts(source, [...new Set(since.missing.map((m) => m.root))], copiedBackTables(plan));
        missing.push(...since.missing.filter((m) => !(facts.get(m.root)?.hasDefault && !facts.get(m.root)?.copiedBack)));
      } finally {
        await target.end().catch(() => undefined);
      }
    }
  } finally {
    await source.end().catch(() => undefined);
  }
  if (missing.length > 0) throw newPartitionsError(opts.split, plan.source.database, missing, false);
}

/**
 * Rollback after an online cutover (SPEC §5): the `reverse` phase of the plan runs with
 * the journal (fence the targets, wait for the source to apply their writes, sequences
 * back, the source unfenced, the config restored, reverse replication torn down), each
 * step resumable after a kill. Then the journal forgets what the split made and marks
 * it rolled back. The service databases are kept, fenced: they hold the writes made
 * since cutover (the source now holds them too); nothing here drops them, and a new
 * apply of the split refuses them until they are dropped by hand.
 */
async function rollbackThroughReverse(opts: RollbackOptions, inv: RollbackInventory, report: RollbackReport): Promise<RollbackReport> {
  const { journal, split } = opts;
  const plan = inv.plan!;
  const sourceUrl = opts.servers.source;
  if (!sourceUrl) throw new BadInputError('source.url is not set');
  const reverse = plan.steps.filter((s): s is FenceTargetStep => s.kind === 'fence_target').map((s) => ({ server: s.target.server, name: s.target.database }));
  const preview: RollbackPreview = {
    split,
    source: databaseOf(sourceUrl),
    databases: [],
    adopted: [],
    roles: [],
    configFiles: [...new Set(inv.configBackups.map((b) => b.file))],
    fenceTables: Array.isArray(inv.fence?.detail?.tables) ? inv.fence.detail.tables.length : 0,
    liftBackup: inv.prior !== null,
    tableMarks: 0,
    restarts: inv.restarts,
    checkedTables: 0,
    reverse,
  };
  report.preview = preview;
  const discard = await checkSourceSinceCutover(opts, plan);
  await checkPartitionsSinceCutover(opts, plan);
  if (!(await opts.confirm(preview))) {
    report.state = 'cancelled';
    return report;
  }
  await runReversePhase({
    journal,
    plan,
    servers: opts.servers,
    baseDir: opts.baseDir,
    env: opts.env,
    progress: opts.progress ?? { emit: () => undefined },
    signal: opts.signal ?? new AbortController().signal,
    phase: 'reverse',
    discardSourceWrites: discard,
  }).catch((err: unknown) => {
    // copy_back's own refusal (the source written behind its fence after the check above) keeps its exit 1 and hint.
    throw err instanceof StepFailedError && err.cause instanceof PlanBlockedError ? err.cause : err;
  });
  const done = await journal.doneSteps(split);
  for (const s of plan.steps) {
    const detail = done.get(s.id)?.detail;
    if (s.kind === 'restore_config' && detail) {
      report.restored.configFiles = Array.isArray(detail.restored) ? (detail.restored as string[]) : [];
      report.restored.unchangedConfigFiles = Array.isArray(detail.unchanged) ? (detail.unchanged as string[]) : [];
      report.restarts = Array.isArray(detail.restarts) ? (detail.restarts as RestartResult[]) : [];
    }
    if (s.kind === 'unfence_source') {
      report.restored.fenceRemovedFrom = s.tables.length;
      report.restored.readOnlyLifted = detail?.backupLifted === true;
      if (Array.isArray(detail?.stillFenced)) report.restored.stillFenced = (detail.stillFenced as unknown[]).filter((t): t is string => typeof t === 'string');
      if (Array.isArray(detail?.warnings)) report.warnings.push(...(detail.warnings as string[]));
    }
    if (s.kind === 'stop_reverse_replication' && s.phase === 'reverse' && Array.isArray(detail?.dropped)) {
      report.dropped.replication = [...(report.dropped.replication ?? []), ...(detail.dropped as string[])];
    }
  }
  // The source has every write back: what it references must still be there. The rollback itself is done by now,
  // so a check that cannot run is a warning, not a failure that would leave the journal unmarked.
  try {
    const source = await databaseClient(opts.servers.source!, databaseOf(opts.servers.source!));
    try {
      const moved = plan.services.flatMap((s) => s.tables.map((t) => t.name));
      report.warnings.push(...(await sourceOrphanWarnings(source, [...plan.services.flatMap((s) => s.droppedForeignKeys), ...(await keysToMoved(source, moved))])));
    } finally {
      await source.end().catch(() => undefined);
    }
  } catch (err) {
    report.warnings.push(`could not check the source for rows referencing rows that do not exist (${err instanceof Error ? err.message : String(err)}): check the foreign keys the split dropped by hand (the plan lists them)`);
  }
  const created = await journal.created(split);
  const kept = created.filter((o) => o.kind === 'database');
  report.kept.databases = kept.map((o) => ({
    server: o.server,
    name: o.name,
    reason: 'fenced, kept: it holds the writes made since cutover (the source has them all now); drop it by hand once it is no longer needed',
  }));
  const roles = created.filter((o) => o.kind === 'role');
  if (roles.length > 0) report.warnings.push(`roles kept with the databases they own: ${roles.map((r) => r.name).join(', ')}`);
  // Everything is undone or kept on purpose: the journal no longer claims any of it, so nothing ever drops the kept databases.
  for (const o of created) await journal.forgetCreated(split, o);
  await journal.markRolledBack(split);
  report.state = 'rolled-back';
  return report;
}
