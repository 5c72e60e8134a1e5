import { BadInputError, DifferenceError } from '../errors.js';
import { restoreConfigFiles } from '../config/restore.js';
import { configBackupsFromCreated } from '../config/restore.js';
import { databaseOf } from '../conn/connection.js';
import { databaseClient, sameDatabase } from '../retention/maintenance-client.js';
import { readInventory } from './rollback-inventory.js';
import { checkServiceNames } from '../plan/service-selection.js';
import { serviceScope } from './service-scope.js';
import { removeFence } from './source-restore.js';
import { unfenceSql } from '../steps/fence-source.js';
import { dropCreated } from './drop-created.js';
import { restartServices } from './restart-services.js';
import { beforeAnyChange, checkTargets, crossWaveKeysOf, emptyReport, recheckBeforeDrop, type RollbackOptions, type RollbackReport } from './rollback-split.js';
import type { CreatedObject, PgClient } from '../steps/handler.js';
import { dropServiceReplication, onlineScope } from './online-service-scope.js';

/** Drops the fence triggers of `tables` only: the fence function stays for the other services' tables. */
async function removeSomeFences(client: PgClient, tables: string[], split: string): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL lock_timeout = '60s'`);
    for (const s of unfenceSql(tables, split).slice(0, -1)) await client.query(s);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * `rollback --service a,b`: undoes those services of the split and nothing else. Their
 * databases and roles are dropped (after the same identity and "nothing written since
 * the copy" checks as a whole rollback, on their databases), their config files
 * restored, and the fence lifted from their moved tables only; the journal makes their
 * steps not done, so `apply --service` applies them again. An online split before its
 * cutover: their subscriptions, slots, publications and replication roles are dropped
 * first (the other services keep replicating); after its cutover it is refused (exit 2,
 * see onlineScope). Refused with exit 1 and the reason, nothing changed, when the
 * split's source is already retired as a whole or another applied service depends on
 * theirs (see serviceScope).
 */
export async function rollbackServices(opts: RollbackOptions, services: string[]): Promise<RollbackReport> {
  const { journal, split, servers } = opts;
  const report = emptyReport(split);
  const inv = await readInventory(journal, split);
  const plan = inv.plan;
  if (!plan) throw new BadInputError(`split ${split} has not been applied: there is nothing to roll back`);
  checkServiceNames(plan, services);
  const done = new Set((await journal.doneSteps(split)).keys());
  const replication = onlineScope(plan, done, services);
  const scope = serviceScope(plan, inv, services, done);
  if (scope.refusals.length > 0) {
    throw new DifferenceError(`rollback of ${services.join(', ')} alone is refused, so nothing was changed:\n  ${scope.refusals.join('\n  ')}`, 'roll back the services named above together, or the whole split');
  }
  const mine = replication.recorded(inv.other);
  const nothing = scope.databases.length + scope.adopted.length + scope.roles.length + scope.config.length + scope.fenceTables.length + mine.length === 0;
  if (nothing && !scope.stepIds.some((id) => done.has(id))) return report;

  const sourceUrl = servers.source;
  if (!sourceUrl) throw new BadInputError('source.url is not set');
  const sourceDb = databaseOf(sourceUrl);
  const ours = <T extends { server: string; database: string }>(list: T[]): T[] => list.filter((t) => scope.databases.concat(scope.adopted).some((o) => o.server === t.server && o.name === t.database));
  const { checked, notes } = await beforeAnyChange(() => checkTargets(
    { databases: scope.databases, adopted: scope.adopted, roles: scope.roles, baselines: ours(inv.baselines), targets: ours(inv.targets) },
    servers,
  ));
  report.warnings.push(...notes);
  const crossWave = scope.fenceTables.length > 0 ? await beforeAnyChange(() => crossWaveKeysOf(sourceUrl, scope.fenceTables)) : [];
  report.warnings.push(...crossWave);
  const names = (list: CreatedObject[]) => list.map((o) => ({ server: o.server, name: o.name }));
  const configBackups = configBackupsFromCreated(scope.config);
  const preview = {
    split,
    source: sourceDb,
    databases: names(scope.databases),
    adopted: names(scope.adopted),
    roles: names(scope.roles),
    configFiles: [...new Set(configBackups.map((b) => b.file))],
    fenceTables: scope.fenceTables.length,
    liftBackup: false,
    // Tables are marked as backups by schedule_retention, which runs only once every service is applied.
    tableMarks: 0,
    restarts: scope.restarts,
    checkedTables: checked,
    services,
    ...(crossWave.length > 0 ? { crossWaveKeys: crossWave } : {}),
  };
  report.preview = preview;
  if (!(await opts.confirm(preview))) {
    report.state = 'cancelled';
    return report;
  }

  if (configBackups.length > 0) {
    const restored = await restoreConfigFiles(opts.baseDir, { files: configBackups });
    if (restored.problems.length > 0) {
      throw new DifferenceError(
        `config files changed since the split repointed them, so nothing was changed:\n  ${restored.problems.map((p) => `${p.file}: ${p.problem}`).join('\n  ')}`,
        'put back what the split wrote in those files (or restore them by hand from the plan\'s diff), then run rollback again',
      );
    }
    report.restored.configFiles = restored.restored;
    report.restored.unchangedConfigFiles = restored.unchanged;
    for (const o of scope.config) await journal.forgetCreated(split, o);
  }

  if (scope.fenceTables.length > 0 && inv.fence) {
    const client = await databaseClient(sourceUrl, sourceDb);
    try {
      if (scope.otherFenceTables.length === 0) {
        await removeFence(client, scope.fenceTables, sameDatabase(opts.controlUrl, sourceUrl, sourceDb), split);
        await journal.forgetCreated(split, inv.fence);
      } else {
        await removeSomeFences(client, scope.fenceTables, split);
        await journal.recordCreated(split, { ...inv.fence, detail: { ...inv.fence.detail, tables: scope.otherFenceTables } });
      }
      report.restored.fenceRemovedFrom = scope.fenceTables.length;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  report.restarts = await restartServices(scope.restarts, opts.baseDir, opts.env, opts.secrets);
  const forget = (o: CreatedObject) => journal.forgetCreated(split, o);
  if (replication.steps.length > 0) {
    // Online mode: their subscriptions first (a database holding one cannot be dropped), then slots, publications and replication roles.
    report.dropped.replication = await dropServiceReplication(servers, replication.steps);
    for (const o of mine) await forget(o);
  }
  const gone = await dropCreated(
    servers,
    scope,
    forget,
    (message) => opts.progress?.emit({ type: 'log', level: 'warn', message }),
    recheckBeforeDrop({ baselines: ours(inv.baselines), targets: ours(inv.targets) }, servers),
  );
  report.kept.databases = gone.keptDatabases;
  report.dropped = { ...report.dropped, databases: gone.databases, roles: gone.roles };
  report.problems = gone.problems;
  // Only once everything is undone: a rerun of rollback --service finishes what failed.
  if (report.problems.length === 0) await journal.undoSteps(split, scope.stepIds);
  report.state = 'rolled-back';
  return report;
}
