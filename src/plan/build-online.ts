import type { Table } from '../catalog/model.js';
import { parseKey, tableKey } from '../catalog/model.js';
import { ident, qname } from '../pg/quote.js';
import type { CatchUpStep, DenormalizeFill, Plan, Step, StepKind, StepOf, TargetRef } from './model.js';
import type { PlanInput } from './input.js';
import { withPartitions } from './foreign-keys.js';
import { stepId } from '../steps/ids.js';
import { markerInsert } from '../steps/marker.js';
import { vacuumAnalyzeSql } from '../steps/create-indexes.js';
import { releaseReplicationSql, replicationNames, startReplicationSql, stopReplicationSql, waitSyncSql } from '../online/replication-sql.js';
import { hasReplicaIdentity, replicaIdentityCandidate, splitPostData } from '../online/identity-keys.js';
import { catchUpSql, liveRowcountsSql } from '../online/cutover-sql.js';
import { ONLINE_PREFLIGHT_SQL } from '../online/online-preflight.js';
import { formatBytes } from '../format/byte-size.js';
import { reverseSteps } from './build-reverse.js';
import { xmlColumns } from './xml-columns.js';
import { readOnlyCopyTriggerSql } from './read-only-copies.js';

/** Why logical replication cannot carry a table (UNLOGGED, no replica identity for its UPDATEs and DELETEs, xml values it would change); empty when it can. */
function replicationProblems(tables: Map<string, Table>, keys: Iterable<string>): string[] {
  const problems: string[] = [];
  for (const key of [...new Set(keys)].sort()) {
    const t = tables.get(key);
    if (!t) continue;
    if (t.persistence === 'u') problems.push(`${key} is UNLOGGED`);
    if (!hasReplicaIdentity(t)) problems.push(`${key} has no primary key and no replica identity`);
    const xml = xmlColumns(t).map((c) => c.name);
    if (xml.length > 0) problems.push(`${key} has xml column${xml.length === 1 ? '' : 's'} ${xml.join(', ')}, which logical replication sends through PostgreSQL's xml output (it drops a leading <?xml ...?> declaration)`);
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
 * verify_rowcounts against the fenced source, stop_replication (the subscriptions),
 * start_reverse_replication, repoint_config, schedule_retention, release_replication
 * (the source's slots and publications, once the services are switched). No copy_data step: the subscriptions copy the data.
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
  const fenceId = stepId('fence_source', catalog.database);
  /** Per service with tables copied at cutover: those copies and their index steps, and its foreign keys and grant, run after the fence. */
  const late: Array<{ database: string; copies: Step[]; indexes: Step[]; fk: Step; grant: Step; schemaId: string; after?: string[] }> = [];
  const fenceAfter: string[] = [];
  const replicated: Array<{ target: TargetRef; names: ReturnType<typeof replicationNames>; start: string; roots: string[] }> = [];
  const fills: DenormalizeFill[] = [];
  for (const service of input.services) {
    const target: TargetRef = { service: service.spec.name, server: service.spec.server, database: service.spec.database };
    const db = target.database;
    const schemaId = stepId('create_schema', db);
    const allKeys = withPartitions(catalog, [...service.tables, ...service.copies]);
    const allRoots = allKeys.filter((k) => !tables.get(k)!.partitionOf);
    // Tables logical replication cannot carry are copied like offline, inside the cutover window after the fence.
    const unreplicable = new Set(allRoots.filter((r) => replicationProblems(tables, withPartitions(catalog, [r])).length > 0));
    const roots = allRoots.filter((r) => !unreplicable.has(r));
    const keys = withPartitions(catalog, roots);
    const fkStep = pick('create_indexes', stepId('create_indexes', db, 'foreign_keys'));
    const grantStep = pick('grant', stepId('grant', db));
    if (unreplicable.size > 0) {
      const leaves = new Set(withPartitions(catalog, [...unreplicable]));
      const copies = offline.steps.filter((x): x is StepOf<'copy_data'> => x.kind === 'copy_data' && x.target.database === db && leaves.has(tableKey(x.source)));
      const indexes = offline.steps.filter(
        (x): x is StepOf<'create_indexes'> => x.kind === 'create_indexes' && x.id !== fkStep.id && x.target.database === db && x.table !== undefined && (unreplicable.has(x.table) || leaves.has(x.table)),
      );
      const bytes = [...unreplicable].reduce((a, r) => a + withPartitions(catalog, [r]).reduce((b, k) => b + (tables.get(k)?.bytes ?? 0), 0), 0);
      for (const r of [...unreplicable].sort()) {
        const t = tables.get(r)!;
        const index = t.persistence !== 'u' && withPartitions(catalog, [r]).length === 1 ? replicaIdentityCandidate(t) : null;
        warnings.push(
          `${target.service}: ${replicationProblems(tables, withPartitions(catalog, [r])).join(', ')}: logical replication cannot carry it, so cutover copies it after the fence, like an offline copy (the source is not changed)` +
            (index ? `; to replicate it instead, give it a replica identity in the source before apply: ALTER TABLE ${qname(t)} REPLICA IDENTITY USING INDEX ${ident(index)} (unique, on NOT NULL columns)` : ''),
        );
      }
      warnings.push(`${target.service}: copying ${unreplicable.size} table${unreplicable.size === 1 ? '' : 's'} (${formatBytes(bytes)}) inside the cutover window adds their copy time to the write downtime`);
      late.push({ database: db, copies: copies.map((c) => ({ ...c, dependsOn: [fenceId, schemaId] })), indexes, fk: fkStep, grant: grantStep, schemaId });
      // Everything after the fence (catch_up, sync_sequences, verify_rowcounts) then comes after this database's schema too.
      fenceAfter.push(schemaId);
    }
    if (keys.length === 0) {
      if (unreplicable.size > 0) continue;
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
    replicated.push({ target, names, start: startId, roots });

    const restIds: string[] = [];
    const copiesHere = new Set(service.copies);
    for (const root of roots) {
      const family = withPartitions(catalog, [root]);
      // A copy is read-only here too: an ordinary trigger, which the subscription's writes do not fire.
      const owner = copiesHere.has(root) ? input.services.find((x) => x.tables.includes(root)) : undefined;
      const sql = [
        ...family.flatMap((k) => post.rest[k] ?? []),
        ...(copiesHere.has(root) ? readOnlyCopyTriggerSql(family, owner ? { service: owner.spec.name, database: owner.spec.database } : null, catalog.database) : []),
      ];
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
    if (unreplicable.size > 0) {
      // Foreign keys and ownership wait for the tables copied at cutover.
      late.at(-1)!.after = [waitId, ...restIds];
      fenceAfter.push(waitId, ...restIds);
    } else {
      steps.push({ ...fkStep, dependsOn: [schemaId, waitId, ...restIds] }, { ...grantStep, dependsOn: [fkStep.id] });
      grants.push(grantStep.id);
    }

    for (const d of service.denormalize) {
      if (unreplicable.has(d.table)) continue; // its cutover copy fills the column
      fills.push({ target, table: d.table, column: d.column, fromTable: d.fromTable, fromColumn: d.fromColumn, fromPartitioned: tables.get(d.fromTable)?.kind === 'p', on: d.on });
      warnings.push(
        `${target.service}: logical replication does not fill the denormalized column ${d.table}.${d.column}: ` +
          `cutover fills it from ${d.fromTable}.${d.fromColumn} before the fence, and after it (catch_up) refills only the rows written since ` +
          `(every row when ${d.fromTable} is not replicated by this split)`,
      );
    }
  }

  const cutover: Step[] = [];
  const fence = pick('fence_source', stepId('fence_source', catalog.database));
  cutover.push({ ...fence, description: `${fence.description} (writes stop here until the services use their new databases)`, dependsOn: [...grants, ...fenceAfter] });
  for (const l of late) {
    cutover.push(...l.copies, ...l.indexes);
    cutover.push({ ...l.fk, dependsOn: [l.schemaId, ...(l.after ?? []), ...l.copies.map((c) => c.id), ...l.indexes.map((x) => x.id)] });
    cutover.push({ ...l.grant, dependsOn: [l.fk.id] });
  }
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
    // Beside catch_up, not after it: once fenced, the source's sequences no longer move with committed rows
    // (the fence waited for the transactions that used them), and replication does not carry sequences.
    cutover.push({ ...s, dependsOn: [fence.id] });
  }
  for (const s of offline.steps) {
    if (s.kind !== 'verify_rowcounts') continue;
    verifyIds.push(s.id);
    cutover.push({
      ...s,
      description: `compare row counts of ${s.tables.length} tables with the fenced source`,
      sql: liveRowcountsSql(s.tables),
      dependsOn: [catchUp.id, stepId('sync_sequences', s.target.database), ...(late.find((l) => l.database === s.target.database)?.copies.map((c) => c.id) ?? [])],
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
      description: `drop the subscription of ${r.target.database}: its apply worker stops, nothing but the service writes there from now on`,
      sql: stopReplicationSql(r.names, r.target),
      // Beside verify_rowcounts, not after it: once caught up, the subscription has nothing left to carry (the source
      // is fenced), and no service is repointed before every verify_rowcounts passed (repoint_config waits for them).
      dependsOn: [catchUp.id],
      target: r.target,
      publication: r.names.publication,
      subscription: r.names.subscription,
      slot: r.names.slot,
    });
  }
  // Reverse replication starts once forward replication is gone, before any service is switched.
  const finals = offline.steps.filter((s) => s.kind === 'repoint_config' || s.kind === 'schedule_retention');
  const reverse = reverseSteps(
    input,
    replicated.map((r) => ({ target: r.target, stopId: stepId('stop_replication', r.target.database), roots: r.roots })),
    [...cutover, ...finals],
  );
  errors.push(...reverse.errors);
  warnings.push(...reverse.warnings);
  cutover.push(...reverse.start);
  const reverseIds = reverse.start.map((s) => s.id);
  const repointIds = new Set(finals.filter((s) => s.kind === 'repoint_config').map((s) => s.id));
  for (const s of finals) {
    // Inside the window, services that share a config file do not wait for each other's whole step (restart,
    // write probe): only their writes of that file take turns, in plan order (repoint-config.ts, file-turn.ts).
    const after = s.kind === 'repoint_config' ? s.dependsOn.filter((d) => !repointIds.has(d)) : s.dependsOn;
    cutover.push({ ...s, dependsOn: [...after, ...stopIds, ...(s.kind === 'repoint_config' ? reverseIds : [])] });
  }
  // The source's side of the forward replication, once the services are switched (outside the window).
  for (const r of replicated) {
    cutover.push({
      id: stepId('release_replication', r.target.database),
      kind: 'release_replication',
      service: r.target.service,
      description: `drop the slot, publication and replication role on ${catalog.database} of the stopped replication of ${r.target.database}`,
      sql: releaseReplicationSql(r.names),
      dependsOn: [stepId('stop_replication', r.target.database), ...[...repointIds].filter((id) => cutover.some((c) => c.id === id))],
      target: r.target,
      publication: r.names.publication,
      subscription: r.names.subscription,
      slot: r.names.slot,
    });
  }

  return {
    ...offline,
    steps: [
      ...steps,
      ...cutover.map((s): Step => ({ ...s, phase: 'cutover' })),
      ...reverse.reverse.map((s): Step => ({ ...s, phase: 'reverse' })),
      ...reverse.complete.map((s): Step => ({ ...s, phase: 'complete' })),
    ],
    warnings,
    errors,
  };
}
