import type { Table } from '../catalog/model.js';
import { tableKey } from '../catalog/model.js';
import type { PlanInput } from './input.js';
import type {
  FenceSourceStep,
  RepointConfigStep,
  ReverseTable,
  ScheduleRetentionStep,
  StartReverseReplicationStep,
  Step,
  SyncSequencesStep,
  TargetRef,
} from './model.js';
import { withPartitions } from './foreign-keys.js';
import { stepId } from '../steps/ids.js';
import { hasReplicaIdentity } from '../online/identity-keys.js';
import { COLUMN_LIST_MIN_VERSION, fenceTargetSql, reverseCatchUpSql, reverseReplicationNames, startReverseSql, stopReverseSql } from '../online/reverse-sql.js';
import { syncSequencesBackSql } from '../steps/sync-sequences-back.js';
import { copyBackPlanSql } from '../steps/copy-back.js';
import { xmlReadAs } from './xml-columns.js';
import { unfenceStatements } from '../rollback/source-restore.js';

/** A service database whose tables replicate at cutover: what reverse replication starts from. */
export interface Replicated {
  target: TargetRef;
  /** Its forward stop_replication step: the reverse one starts after it (never both at once: changes would loop). */
  stopId: string;
  /** The roots its forward subscription carries (moved and copied). */
  roots: string[];
}

export interface ReverseSteps {
  /** start_reverse_replication, one per replicated database: cutover steps, before repoint_config. */
  start: StartReverseReplicationStep[];
  /** rollback after cutover (phase `reverse`). */
  reverse: Step[];
  /** cutover --complete (phase `complete`). */
  complete: Step[];
  errors: string[];
  warnings: string[];
}

function reverseTable(tables: Map<string, Table>, root: string, denormalized: boolean): ReverseTable {
  const t = tables.get(root)!;
  return { table: root, partitioned: t.kind === 'p', columns: denormalized ? t.columns.filter((c) => !c.generated).map((c) => c.name) : null };
}

/**
 * Reverse replication of an online plan (SPEC §3, §5): at cutover each replicated
 * service database publishes its moved tables back and the source subscribes to them
 * (`start_reverse_replication`); `rollback` after cutover runs the `reverse` phase:
 * fence_target, reverse_catch_up, sync_sequences_back per database, then unfence_source,
 * restore_config, and stop_reverse_replication per database; `cutover --complete` runs
 * the `complete` phase: stop_reverse_replication per database. Errors: what the
 * plan's known versions cannot do (column lists need PostgreSQL 15+ on the target),
 * and a REPLICA IDENTITY FULL table with a denormalized column (a column list must
 * then hold every column). Pure.
 */
export function reverseSteps(input: PlanInput, replicated: Replicated[], cutover: Step[]): ReverseSteps {
  const { catalog } = input;
  const tables = new Map(catalog.tables.map((t) => [tableKey(t), t]));
  const out: ReverseSteps = { start: [], reverse: [], complete: [], errors: [], warnings: [] };
  const fence = cutover.find((s): s is FenceSourceStep => s.kind === 'fence_source');
  const repoints = cutover.filter((s): s is RepointConfigStep => s.kind === 'repoint_config');
  const retention = cutover.filter((s): s is ScheduleRetentionStep => s.kind === 'schedule_retention');
  const lastIds = [...repoints.map((s) => s.id), ...retention.map((s) => s.id)];
  const syncs = cutover.filter((s): s is SyncSequencesStep => s.kind === 'sync_sequences');
  const source = catalog.database;
  const perDb: Array<{ target: TargetRef; start: string; names: ReturnType<typeof reverseReplicationNames> }> = [];
  const fenceIds: string[] = [];
  const backIds: string[] = [];

  for (const service of input.services) {
    const r = replicated.find((x) => x.target.service === service.spec.name);
    const target: TargetRef = r?.target ?? { service: service.spec.name, server: service.spec.server, database: service.spec.database };
    const moved = new Set(withPartitions(catalog, service.tables));
    const movedRoots = [...moved].filter((k) => !tables.get(k)?.partitionOf);
    const roots = (r?.roots ?? []).filter((k) => moved.has(k));
    // Copied at cutover (UNLOGGED, no replica identity): copied back by rollback.
    const unreplicable = movedRoots.filter((k) => !roots.includes(k));
    if (roots.length === 0 && unreplicable.length === 0) continue;
    const denormalized = new Set(service.denormalize.map((d) => d.table));
    const published = roots.map((root) => reverseTable(tables, root, withPartitions(catalog, [root]).some((k) => denormalized.has(k))));
    for (const p of published) {
      if (p.columns === null) continue;
      const leaves = withPartitions(catalog, [p.table]).map((k) => tables.get(k)!);
      if (leaves.some((t) => t.replicaIdentity === 'f' || !hasReplicaIdentity(t))) {
        out.errors.push(
          `${target.service}: ${p.table} has REPLICA IDENTITY FULL and a denormalized column: reverse replication after cutover would publish it with a column list, ` +
            'which must then hold every column; give the table a primary key (or a replica identity index) on the source, then plan again',
        );
      }
    }
    if (target.server === 'source' && catalog.serverVersionNum < COLUMN_LIST_MIN_VERSION && published.some((p) => p.columns !== null)) {
      out.errors.push(
        `${target.service}: reverse replication after cutover needs PostgreSQL 15 or later on the server of ${target.database} (the source's, ${catalog.serverVersion}): ` +
          `${published.filter((p) => p.columns !== null).map((p) => p.table).join(', ')} hold denormalized columns, and only a publication with column lists (15+) leaves them out; ` +
          'put the service on a server of version 15 or later (servers:), or drop its denormalize entries',
      );
    }
    let start: string | null = null;
    let names: ReturnType<typeof reverseReplicationNames> | null = null;
    if (r && roots.length > 0) {
      names = reverseReplicationNames(input.manifest.name, target);
      start = stepId('start_reverse_replication', target.database);
      out.start.push({
        id: start,
        kind: 'start_reverse_replication',
        service: target.service,
        description: `publish ${roots.length} tables of ${target.database} back and subscribe ${source} to them: every write made to ${target.database} after cutover reaches the source (rollback brings it back)`,
        sql: startReverseSql(names, published, target, source),
        // After the grant step of its database: its GRANTs to the reverse role and that step's ALTER … OWNER on the
        // same tables, at once, fail with "tuple concurrently updated".
        dependsOn: [r.stopId, ...cutover.filter((s) => s.kind === 'grant' && s.target.server === target.server && s.target.database === target.database).map((s) => s.id)],
        target,
        ...names,
        tables: published,
        sourceDatabase: source,
      });
      perDb.push({ target, start, names });
    }

    const fenced = withPartitions(catalog, service.tables);
    const fenceId = stepId('fence_target', target.database);
    const lateCopies = cutover.filter((s) => s.kind === 'copy_data' && s.target.database === target.database).map((s) => s.id);
    out.reverse.push({
      id: fenceId,
      kind: 'fence_target',
      service: target.service,
      description: `fence ${fenced.length} tables of ${target.database}: writes there are refused, naming ${source}`,
      sql: fenceTargetSql(input.manifest.name, source, fenced, new Set(catalog.tables.filter((t) => t.kind === 'p' && !t.partitionOf).map(tableKey))),
      dependsOn: [...(start ? [start] : lateCopies), ...lastIds],
      target,
      tables: fenced,
      sourceDatabase: source,
    });
    fenceIds.push(fenceId);
    const before: string[] = [];
    if (names) {
      const catchId = stepId('reverse_catch_up', target.database);
      out.reverse.push({
        id: catchId,
        kind: 'reverse_catch_up',
        service: target.service,
        description: `wait until ${source} has applied every write made to ${target.database}`,
        sql: reverseCatchUpSql(names.slot, target),
        dependsOn: [fenceId],
        target,
        slot: names.slot,
      });
      before.push(catchId);
    }
    if (unreplicable.length > 0) {
      const leaves = withPartitions(catalog, unreplicable)
        .map((k) => tables.get(k)!)
        .filter((t) => t.kind !== 'p')
        .map((t) => {
          const readAs = xmlReadAs(t);
          return { table: tableKey(t), columns: t.columns.filter((c) => !c.generated).map((c) => c.name), ...(Object.keys(readAs).length > 0 ? { readAs } : {}) };
        });
      const copyId = stepId('copy_back', target.database);
      out.reverse.push({
        id: copyId,
        kind: 'copy_back',
        service: target.service,
        description: `copy ${leaves.length} ${leaves.length === 1 ? 'table' : 'tables'} that replication cannot carry (${unreplicable.join(', ')}) back from ${target.database} into ${source}`,
        sql: copyBackPlanSql(leaves, target.database),
        dependsOn: [fenceId],
        target,
        leaves,
      });
      before.push(copyId);
    }
    const sequences = syncs.find((s) => s.target.database === target.database && s.target.server === target.server)?.sequences ?? [];
    const backId = stepId('sync_sequences_back', target.database);
    out.reverse.push({
      id: backId,
      kind: 'sync_sequences_back',
      service: target.service,
      description: `set ${sequences.length} sequences of ${source} at or past those of ${target.database}`,
      sql: syncSequencesBackSql({ sequences, target }),
      dependsOn: before,
      target,
      sequences,
    });
    backIds.push(backId);
  }
  if (perDb.length === 0) return { ...out, reverse: [] };

  const unfenceId = stepId('unfence_source', source);
  const fencedTables = fence?.tables ?? [];
  out.reverse.push({
    id: unfenceId,
    kind: 'unfence_source',
    description: `make ${source} take writes again: its backup mark lifted, its retention ended, the fence removed from ${fencedTables.length} tables`,
    sql: unfenceStatements(fencedTables, false, input.manifest.name),
    dependsOn: backIds,
    database: source,
    tables: fencedTables,
  });
  const restoreId = stepId('restore_config', source);
  const restarts = repoints.flatMap((s) => (s.restart ? [{ service: s.service ?? s.target.service, command: s.restart }] : []));
  out.reverse.push({
    id: restoreId,
    kind: 'restore_config',
    description: `put back the original of every config file the split repointed (${repoints.reduce((n, s) => n + s.edits.length, 0)} entries), then restart the services`,
    sql: ['-- every config file repointed by the split: its original content back, from the journal', ...restarts.map((r) => `-- then run: ${r.command}`)],
    dependsOn: [unfenceId],
    restarts,
  });
  for (const d of perDb) {
    const stop = stopReverseSql(d.names, d.target);
    out.reverse.push({
      id: stepId('stop_reverse_replication', d.target.database),
      kind: 'stop_reverse_replication',
      service: d.target.service,
      description: `drop the reverse replication of ${d.target.database}: the subscription on ${source}, the slot, publication and role on ${d.target.database}`,
      sql: stop,
      dependsOn: [restoreId],
      target: d.target,
      ...d.names,
    });
    out.complete.push({
      id: stepId('stop_reverse_replication', d.target.database, 'complete'),
      kind: 'stop_reverse_replication',
      service: d.target.service,
      description: `end the reverse replication of ${d.target.database} for good: the subscription on ${source}, the slot, publication and role on ${d.target.database}`,
      sql: stop,
      dependsOn: [d.start, ...lastIds],
      target: d.target,
      ...d.names,
    });
  }
  return out;
}
