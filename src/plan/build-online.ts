import type { Table } from '../catalog/model.js';
import { parseKey, tableKey } from '../catalog/model.js';
import { qname } from '../pg/quote.js';
import type { CatchUpStep, DenormalizeFill, Plan, Step, StepKind, StepOf, TargetRef } from './model.js';
import type { PlanInput } from './input.js';
import { withPartitions } from './foreign-keys.js';
import { stepId } from '../steps/ids.js';
import { markerInsert } from '../steps/marker.js';
import { vacuumAnalyzeSql } from '../steps/create-indexes.js';
import { replicationNames, startReplicationSql, stopReplicationSql, waitSyncSql } from '../online/replication-sql.js';
import { hasReplicaIdentity, splitPostData } from '../online/identity-keys.js';
import { catchUpSql, liveRowcountsSql } from '../online/cutover-sql.js';
import { ONLINE_PREFLIGHT_SQL } from '../online/online-preflight.js';

/** Problems that make a table impossible to replicate: plan errors in online mode. */
function replicationProblems(tables: Map<string, Table>, keys: Iterable<string>): string[] {
  const problems: string[] = [];
  for (const key of [...new Set(keys)].sort()) {
    const t = tables.get(key);
    if (!t) continue;
    if (t.persistence === 'u') {
      problems.push(`${key} is UNLOGGED: logical replication cannot carry it; make it logged (ALTER TABLE ${qname(t)} SET LOGGED) or use mode: offline`);
    }
    if (!hasReplicaIdentity(t)) {
      problems.push(
        `${key} has no primary key and no replica identity: in online mode its UPDATEs and DELETEs cannot be replicated ` +
          `(and once published they would fail on the source); add a primary key or ALTER TABLE ${qname(t)} REPLICA IDENTITY FULL, then plan again`,
      );
    }
  }
  return problems;
}

function find<K extends StepKind>(steps: Step[], kind: K, id: string): StepOf<K> | undefined {
  return steps.find((s): s is StepOf<K> => s.kind === kind && s.id === id);
}

/**
 * Turns the offline plan of an `online` manifest into the online plan (SPEC §3).
 * Apply phase: preflight (with the replication checks), roles, databases, pre-data,
 * then per service the primary keys / replica identity indexes, `start_replication`
 * (publication, slot, subscription copying the data), `wait_sync`, the remaining
 * post-data, foreign keys and grant: apply ends with replication running. Cutover
 * phase (`phase: 'cutover'`, run by `cutover`): fence, catch_up, sync_sequences,
 * verify_rowcounts against the fenced source, stop_replication, repoint_config,
 * schedule_retention. No copy_data step: the subscriptions copy the data.
 * Pure: no I/O.
 */
export function buildOnlinePlan(input: PlanInput, offline: Plan): Plan {
  const { catalog } = input;
  const tables = new Map(catalog.tables.map((t) => [tableKey(t), t]));
  const errors = [...offline.errors];
  const warnings = [...offline.warnings];
  const pick = <K extends StepKind>(kind: K, id: string): StepOf<K> => {
    const s = find(offline.steps, kind, id);
    if (!s) throw new Error(`the offline plan has no step ${id}`);
    return s;
  };
  const steps: Step[] = [];
  for (const s of offline.steps) {
    if (s.kind === 'preflight') steps.push({ ...s, online: true, sql: [...s.sql, ...ONLINE_PREFLIGHT_SQL] });
    else if (s.kind === 'create_role' || s.kind === 'create_database' || s.kind === 'create_schema') steps.push(s);
  }

  const grants: string[] = [];
  const replicated: Array<{ target: TargetRef; names: ReturnType<typeof replicationNames>; start: string }> = [];
  const fills: DenormalizeFill[] = [];
  for (const service of input.services) {
    const target: TargetRef = { service: service.spec.name, server: service.spec.server, database: service.spec.database };
    const db = target.database;
    const schemaId = stepId('create_schema', db);
    const keys = withPartitions(catalog, [...service.tables, ...service.copies]);
    const roots = keys.filter((k) => !tables.get(k)!.partitionOf);
    errors.push(...replicationProblems(tables, keys));
    const fkStep = pick('create_indexes', stepId('create_indexes', db, 'foreign_keys'));
    const grantStep = pick('grant', stepId('grant', db));
    if (keys.length === 0) {
      steps.push({ ...fkStep, dependsOn: [schemaId] }, { ...grantStep, dependsOn: [fkStep.id] });
      grants.push(grantStep.id);
      continue;
    }
    const post = splitPostData(catalog, keys);
    const keyIds: string[] = [];
    for (const root of roots) {
      const sql = withPartitions(catalog, [root]).flatMap((k) => post.keys[k] ?? []);
      if (sql.length === 0) continue;
      const id = stepId('create_indexes', db, `${root}#keys`);
      keyIds.push(id);
      steps.push({
        id,
        kind: 'create_indexes',
        service: target.service,
        table: root,
        description: `build the primary key / replica identity of ${root}: the subscription needs it to apply UPDATEs and DELETEs`,
        sql: [...sql, markerInsert(id)],
        dependsOn: [schemaId],
        target,
      });
    }

    const names = replicationNames(input.manifest.name, target);
    const leaves = keys
      .map((k) => tables.get(k)!)
      .filter((t) => t.kind !== 'p')
      .map((t) => ({ table: tableKey(t), source: { schema: t.schema, name: t.name }, columns: t.columns.filter((c) => !c.generated).map((c) => c.name) }));
    const published = roots.map((k) => ({ key: k, partitioned: tables.get(k)!.kind === 'p' }));
    const startId = stepId('start_replication', db);
    steps.push({
      id: startId,
      kind: 'start_replication',
      service: target.service,
      description: `publish ${roots.length} tables of ${catalog.database} and subscribe ${db} to them: the subscription copies the rows, then streams every change`,
      sql: startReplicationSql(names, published, input.manifest.source.url, target, catalog.database),
      dependsOn: [schemaId, ...keyIds],
      target,
      ...names,
      tables: roots,
      sameServer: target.server === 'source',
      leaves,
    });
    const waitId = stepId('wait_sync', db);
    steps.push({
      id: waitId,
      kind: 'wait_sync',
      service: target.service,
      description: `wait until the subscription of ${db} has copied all ${roots.length} tables and streams changes`,
      sql: waitSyncSql(names.subscription),
      dependsOn: [startId],
      target,
      subscription: names.subscription,
    });
    replicated.push({ target, names, start: startId });

    const restIds: string[] = [];
    for (const root of roots) {
      const sql = withPartitions(catalog, [root]).flatMap((k) => post.rest[k] ?? []);
      if (sql.length === 0) continue;
      const id = stepId('create_indexes', db, root);
      restIds.push(id);
      steps.push({
        id,
        kind: 'create_indexes',
        service: target.service,
        table: root,
        description: `build the other keys, indexes, triggers and policies of ${root} (replication keeps running)`,
        sql: [...sql, markerInsert(id)],
        dependsOn: [waitId],
        target,
        afterCommit: [vacuumAnalyzeSql(parseKey(root))],
      });
    }
    steps.push({ ...fkStep, dependsOn: [schemaId, waitId, ...restIds] }, { ...grantStep, dependsOn: [fkStep.id] });
    grants.push(grantStep.id);

    for (const d of service.denormalize) {
      fills.push({ target, table: d.table, column: d.column, fromTable: d.fromTable, fromColumn: d.fromColumn, on: d.on });
      warnings.push(
        `${target.service}: logical replication does not fill the denormalized column ${d.table}.${d.column}: ` +
          `cutover fills it from ${d.fromTable}.${d.fromColumn} after the fence (catch_up), during the write downtime`,
      );
    }
  }

  const cutover: Step[] = [];
  const fence = pick('fence_source', stepId('fence_source', catalog.database));
  cutover.push({ ...fence, description: `${fence.description} (writes stop here until the services use their new databases)`, dependsOn: grants });
  const catchUp: CatchUpStep = {
    id: stepId('catch_up', catalog.database),
    kind: 'catch_up',
    description:
      `wait until ${replicated.length} subscriptions have applied every change made before the fence` +
      (fills.length ? `, then fill ${fills.length} denormalized columns` : ''),
    sql: catchUpSql(replicated.map((r) => r.names.slot), fills),
    dependsOn: [fence.id],
    targets: replicated.map((r) => r.target),
    slots: replicated.map((r) => r.names.slot),
    fills,
  };
  cutover.push(catchUp);
  const verifyIds: string[] = [];
  for (const s of offline.steps) {
    if (s.kind !== 'sync_sequences') continue;
    cutover.push({ ...s, dependsOn: [catchUp.id] });
  }
  for (const s of offline.steps) {
    if (s.kind !== 'verify_rowcounts') continue;
    verifyIds.push(s.id);
    cutover.push({
      ...s,
      description: `compare row counts of ${s.tables.length} tables with the fenced source`,
      sql: liveRowcountsSql(s.tables),
      dependsOn: [catchUp.id, stepId('sync_sequences', s.target.database)],
    });
  }
  const stopIds: string[] = [];
  for (const r of replicated) {
    const id = stepId('stop_replication', r.target.database);
    stopIds.push(id);
    cutover.push({
      id,
      kind: 'stop_replication',
      service: r.target.service,
      description: `drop the subscription of ${r.target.database}, its slot, its publication and its replication role`,
      sql: stopReplicationSql(r.names, r.target),
      dependsOn: [stepId('verify_rowcounts', r.target.database)],
      target: r.target,
      publication: r.names.publication,
      subscription: r.names.subscription,
      slot: r.names.slot,
    });
  }
  for (const s of offline.steps) {
    if (s.kind === 'repoint_config' || s.kind === 'schedule_retention') cutover.push({ ...s, dependsOn: [...s.dependsOn, ...stopIds] });
  }

  return {
    ...offline,
    steps: [...steps, ...cutover.map((s): Step => ({ ...s, phase: 'cutover' }))],
    warnings,
    errors,
  };
}
