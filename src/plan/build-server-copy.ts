import { tableKey } from '../catalog/model.js';
import type { Table } from '../catalog/model.js';
import { STEP_KINDS, type CopyDataStep, type Plan, type Step, type StepOf, type TargetRef } from './model.js';
import type { PlanInput } from './input.js';
import { withPartitions } from './foreign-keys.js';
import { stepId } from '../steps/ids.js';
import { copyMethodOf } from '../manifest/copy-method.js';
import { replicationNames } from '../online/replication-sql.js';
import { ONLINE_PREFLIGHT_SQL } from '../online/online-preflight.js';
import { serverCopyRefusal } from '../server-copy/eligibility.js';
import { startServerCopySql, stopServerCopySql, waitServerCopySql } from '../server-copy/server-copy-sql.js';
import { formatBytes } from '../format/byte-size.js';

/** The preflight's replication checks, as the plan shows them. */
export const SERVER_COPY_PREFLIGHT_SQL: readonly string[] = ONLINE_PREFLIGHT_SQL.map((l) => l.replace('-- online mode,', '-- copy: server,'));

/**
 * Turns the offline plan's relay copies of every `copy: server` service into a
 * table synchronisation its target server runs itself (SPEC §3, README "copy:
 * server"): per service `start_server_copy` (publication, slot, replication role,
 * subscription with copy_data), `wait_server_copy` (every table ready) and
 * `stop_server_copy` (all of it dropped: no streaming afterwards). They come after
 * every fence, like the copies they replace: the tables are static while they are
 * copied, so every table's synchronisation sees the same rows and the counts compare
 * exactly. Tables the synchronisation cannot carry stay relay copies, each named in a
 * warning with the reason. Steps that waited for a replaced copy wait for its
 * `wait_server_copy`. Online plans are returned as they are (their subscriptions
 * already copy server to server). Pure: no I/O.
 */
export function withServerCopy(input: PlanInput, plan: Plan): Plan {
  const { manifest, catalog } = input;
  const chosen = input.services.filter((s) => copyMethodOf(manifest, s.spec) === 'server');
  if (chosen.length === 0) return plan;
  if (plan.mode === 'online') {
    return { ...plan, warnings: [...plan.warnings, `copy: server has no effect in online mode: its subscriptions already copy from server to server (${chosen.map((s) => s.spec.name).join(', ')})`] };
  }
  const tables = new Map<string, Table>(catalog.tables.map((t) => [tableKey(t), t]));
  const warnings = [...plan.warnings];
  const removed = new Map<string, string>(); // copy step id -> wait step id
  const added: Step[] = [];
  const stopOf = new Map<string, string>(); // database -> stop step id
  const serverServices = new Set<string>();
  for (const service of chosen) {
    const target: TargetRef = { service: service.spec.name, server: service.spec.server, database: service.spec.database };
    const moved = new Set(withPartitions(catalog, service.tables));
    const copies = plan.steps.filter((s): s is CopyDataStep => s.kind === 'copy_data' && s.target.database === target.database && s.target.server === target.server);
    const byTable = new Map<string, CopyDataStep[]>();
    for (const c of copies) {
      const key = c.table ?? tableKey(c.source);
      byTable.set(key, [...(byTable.get(key) ?? []), c]);
    }
    const pulled: Array<{ key: string; steps: CopyDataStep[]; table: Table }> = [];
    for (const [key, steps] of [...byTable].sort(([a], [b]) => a.localeCompare(b))) {
      const table = tables.get(key);
      if (!table) continue;
      const refusal = serverCopyRefusal({ table, moved: moved.has(key), extraColumns: steps[0]!.extraColumns }, catalog.serverVersionNum);
      if (refusal) warnings.push(`${target.service}: copy: server: ${key} is copied through this tool instead (relay): ${refusal}`);
      else pulled.push({ key, steps, table });
    }
    if (pulled.length === 0) continue;
    serverServices.add(target.service);
    const names = replicationNames(manifest.name, target);
    const db = target.database;
    const startId = stepId('start_server_copy', db);
    const waitId = stepId('wait_server_copy', db);
    const stopId = stepId('stop_server_copy', db);
    const ids = new Set(pulled.flatMap((p) => p.steps.map((s) => s.id)));
    for (const id of ids) removed.set(id, waitId);
    const after = [...new Set(pulled.flatMap((p) => p.steps.flatMap((s) => s.dependsOn)))].filter((d) => !ids.has(d));
    const keys = pulled.map((p) => p.key);
    const bytes = pulled.reduce((a, p) => a + p.table.bytes, 0);
    added.push(
      {
        id: startId,
        kind: 'start_server_copy',
        service: target.service,
        description: `have server ${target.server} pull ${keys.length} tables (${formatBytes(bytes)}) of ${catalog.database} into ${db} itself: publication, replication role, slot, subscription with copy_data (the tables are fenced: every table's copy reads the same rows)`,
        sql: startServerCopySql(names, keys, manifest.source.url, target, catalog.database),
        dependsOn: after,
        target,
        ...names,
        tables: pulled.map((p) => ({
          table: p.key,
          source: { schema: p.table.schema, name: p.table.name },
          columns: p.table.columns.filter((c) => !c.generated).map((c) => c.name),
          rowsEstimate: Math.max(0, p.table.rowsEstimate),
          bytes: p.table.bytes,
        })),
      },
      {
        id: waitId,
        kind: 'wait_server_copy',
        service: target.service,
        description: `wait until ${db} has copied all ${keys.length} tables (every one ready in pg_subscription_rel), counting the fenced source's rows meanwhile`,
        sql: waitServerCopySql(names.subscription, keys),
        dependsOn: [startId],
        target,
        subscription: names.subscription,
        tables: keys,
      },
      {
        id: stopId,
        kind: 'stop_server_copy',
        service: target.service,
        description: `drop the subscription of ${db}, its slots, its publication and its replication role: nothing streams afterwards`,
        sql: stopServerCopySql(names, target),
        dependsOn: [waitId],
        target,
        ...names,
      },
    );
    stopOf.set(db, stopId);
  }
  if (added.length === 0) return { ...plan, warnings };

  // In the order of their kinds, as every plan's steps: every start, then every wait, then every stop.
  added.sort((a, b) => STEP_KINDS.indexOf(a.kind) - STEP_KINDS.indexOf(b.kind));
  const rewire = (deps: string[]) => [...new Set(deps.map((d) => removed.get(d) ?? d))];
  const steps: Step[] = [];
  let placed = false;
  for (const s of plan.steps) {
    if (removed.has(s.id)) continue;
    // The server copies start before the relay's: the target servers work while this tool relays the rest.
    if (!placed && s.kind === 'copy_data') {
      steps.push(...added);
      placed = true;
    }
    let next: Step = { ...s, dependsOn: rewire(s.dependsOn) };
    if (s.kind === 'preflight') next = { ...(next as StepOf<'preflight'>), sql: [...s.sql, ...SERVER_COPY_PREFLIGHT_SQL] };
    if (s.kind === 'verify_rowcounts' && stopOf.has(s.target.database)) next = { ...next, dependsOn: [...next.dependsOn, stopOf.get(s.target.database)!] };
    steps.push(next);
  }
  if (!placed) {
    const at = steps.findIndex((s) => s.kind === 'create_indexes');
    steps.splice(at < 0 ? steps.length : at, 0, ...added);
  }
  return {
    ...plan,
    services: plan.services.map((s) => (serverServices.has(s.name) ? { ...s, copy: 'server' as const } : s)),
    steps,
    warnings,
  };
}
