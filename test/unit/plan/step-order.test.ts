import { describe, expect, it } from 'vitest';
import type { Catalog } from '../../../src/catalog/model.js';
import { parseManifest } from '../../../src/manifest/load.js';
import { resolveManifest } from '../../../src/manifest/resolve.js';
import { buildPlan } from '../../../src/plan/build.js';
import type { PlanInput } from '../../../src/plan/input.js';
import type { Plan, Step } from '../../../src/plan/model.js';
import { assertStepOrder, stepOrderProblems } from '../../../src/plan/step-order.js';
import { CatalogBuilder } from '../manifest/catalog-builder.js';
import { planFrom } from './plan-from.js';

const MANIFEST = (mode: string) => `version: 1
name: parts
mode: ${mode}
source: { url: "\${SRC}" }
services:
  ci:
    database: ci_db
    tables: [builds, artifacts]
  web:
    database: web_db
    tables: [projects]
  notify:
    database: notify_db
`;

/** A partitioned table without any partition (with an index), one with a partition in another schema, a plain one. */
function catalog(): Catalog {
  const c = new CatalogBuilder(['public'])
    .table('artifacts', { columns: ['id', 'partition_id'], partitioned: true, pk: [] })
    .table('builds', { columns: ['id', 'project_id'], partitioned: true, pk: [] })
    .table({ schema: 'dynamic', name: 'builds_1' }, { columns: ['id', 'project_id'], partitionOf: 'builds', pk: [] })
    .table('projects', { columns: ['id', 'name:text'] })
    .build();
  const artifacts = c.tables.find((t) => t.name === 'artifacts')!;
  artifacts.indexes.push({
    name: 'artifacts_partition_id_idx',
    definition: 'CREATE INDEX "artifacts_partition_id_idx" ON ONLY "public"."artifacts" USING "btree" ("partition_id")',
    constraint: null,
    unique: false,
    primary: false,
    clustered: false,
    parentIndex: null,
    comment: null,
  });
  return c;
}

function plan(mode: 'offline' | 'online'): Plan {
  const manifest = parseManifest(MANIFEST(mode), 'split.yaml');
  const cat = catalog();
  const resolved = resolveManifest(manifest, cat, 'split.yaml');
  const input: PlanInput = {
    manifest,
    manifestText: MANIFEST(mode),
    manifestPath: 'split.yaml',
    catalog: cat,
    services: resolved.services.map((s) => ({ spec: s.spec, tables: s.tables, copies: s.copies, views: s.views, denormalize: [] })),
    ignored: [],
    warnings: [],
    configEdits: {},
  };
  return buildPlan(input);
}

describe('the step order of a plan', () => {
  it.each(['offline', 'online'] as const)('puts every %s step of a database after its create_database, partitioned tables without partitions and services without tables included', (mode) => {
    const p = plan(mode);
    expect(stepOrderProblems(p)).toEqual([]);
    expect(p.steps.filter((s) => s.service === 'notify').map((s) => s.kind)).toContain('sync_sequences');
    const indexes = p.steps.find((s) => s.kind === 'create_indexes' && s.table === 'public.artifacts' && !s.id.endsWith('#keys'))!;
    expect(indexes.sql.join('\n')).toContain('artifacts_partition_id_idx');
    expect(indexes.dependsOn.length).toBeGreaterThan(0);
  });

  it('moves a partition that lives in another schema with its table, and copies it', () => {
    const p = plan('offline');
    const copies = p.steps.filter((s) => s.kind === 'copy_data').map((s) => s.table);
    expect(copies).toContain('dynamic.builds_1');
    const fence = p.steps.find((s) => s.kind === 'fence_source')!;
    expect(fence.kind === 'fence_source' && fence.tables).toEqual(expect.arrayContaining(['public.builds', 'dynamic.builds_1']));
    const schema = p.steps.find((s) => s.kind === 'create_schema' && s.service === 'ci')!;
    expect(schema.sql).toContain('CREATE SCHEMA IF NOT EXISTS "dynamic"');
  });

  it('names a step that could run before its database exists, and a dependency on no step', () => {
    const p = plan('offline');
    const broken: Step[] = p.steps.map((s) =>
      s.kind === 'create_indexes' && s.table === 'public.artifacts' ? { ...s, dependsOn: [] } : s.kind === 'grant' && s.service === 'web' ? { ...s, dependsOn: [...s.dependsOn, 'nope:x'] } : s,
    );
    const problems = stepOrderProblems({ steps: broken });
    expect(problems).toEqual([
      'step grant:web_db depends on nope:x, which is not a step of the plan',
      'step create_indexes:ci_db:public.artifacts acts in database ci_db but does not depend on create_database:ci_db: it could run before the database exists',
    ]);
    expect(() => assertStepOrder({ steps: broken })).toThrow(/create_indexes:ci_db:public\.artifacts acts in database ci_db but does not depend on create_database:ci_db/);
  });

  it('names a step acting in a database that no step creates', () => {
    const p = plan('offline');
    const without = p.steps.filter((s) => s.id !== 'create_database:web_db').map((s) => ({ ...s, dependsOn: s.dependsOn.filter((d) => d !== 'create_database:web_db') }));
    expect(stepOrderProblems({ steps: without })).toContain('step create_schema:web_db acts in database web_db, which no create_database step of the plan creates');
  });

  it('runs reverse replication after cutover: rollback (reverse) and cutover --complete (complete) only depend on earlier phases', () => {
    const p = plan('online');
    expect(stepOrderProblems(p)).toEqual([]);
    const phaseOf = (kind: string) => [...new Set(p.steps.filter((s) => s.kind === kind).map((s) => s.phase))];
    expect(phaseOf('start_reverse_replication')).toEqual(['cutover']);
    for (const kind of ['fence_target', 'reverse_catch_up', 'sync_sequences_back', 'unfence_source', 'restore_config']) expect(phaseOf(kind), kind).toEqual(['reverse']);
    expect(phaseOf('stop_reverse_replication').sort()).toEqual(['complete', 'reverse']);
    // Once its forward replication is gone (changes would loop otherwise), each replicated database publishes back.
    expect(p.steps.find((s) => s.id === 'start_reverse_replication:web_db')!.dependsOn).toEqual(['stop_replication:web_db']);
    // Inside the window the subscriptions stop once caught up, beside the row counts; every repoint waits for every count,
    // every stop and its own reverse start; the source's slots and publications go once the services are switched.
    const byId = new Map(p.steps.map((s) => [s.id, s]));
    const catchUp = p.steps.find((s) => s.kind === 'catch_up')!;
    expect(byId.get('stop_replication:web_db')!.dependsOn).toEqual([catchUp.id]);
    const repoints = p.steps.filter((s) => s.kind === 'repoint_config' && s.phase === 'cutover');
    for (const r of repoints) {
      for (const s of p.steps.filter((x) => x.phase === 'cutover' && (x.kind === 'verify_rowcounts' || x.kind === 'stop_replication'))) expect(r.dependsOn, r.id).toContain(s.id);
      expect(r.dependsOn, r.id).toContain(`start_reverse_replication:${(r as { target: { database: string } }).target.database}`);
    }
    const release = byId.get('release_replication:web_db')!;
    expect(release.phase).toBe('cutover');
    expect(release.dependsOn).toEqual(['stop_replication:web_db', ...repoints.map((r) => r.id)]);
    const repoint = p.steps.find((s) => s.id === 'stop_replication:web_db')!;
    const rev = p.steps.find((s) => s.id === 'fence_target:web_db')!;
    const complete = p.steps.find((s) => s.id === 'stop_reverse_replication:web_db:complete')!;
    const broken: Step[] = p.steps.map((s) =>
      s.id === repoint.id ? { ...s, dependsOn: [...s.dependsOn, rev.id] } : s.id === 'reverse_catch_up:web_db' ? { ...s, dependsOn: [...s.dependsOn, complete.id] } : s,
    );
    expect(stepOrderProblems({ steps: broken })).toEqual([
      `step ${repoint.id} (phase cutover) depends on fence_target:web_db of phase reverse, which does not run before it`,
      'step reverse_catch_up:web_db (phase reverse) depends on stop_reverse_replication:web_db:complete of phase complete, which does not run before it',
    ]);
  });
});

describe('an online service with a table logical replication cannot carry', () => {
  it('starts its reverse replication after its grant step, which the copy at cutover puts in the window too', () => {
    const text = `version: 1
name: mixed
mode: online
source: { url: "\${SRC}" }
services:
  web: { database: web_db, tables: [projects, logs] }
`;
    const cat = new CatalogBuilder(['public']).table('projects', { columns: ['id', 'name:text'] }).table('logs', { columns: ['id', 'line:text'], pk: [] }).build();
    const p = planFrom(text, cat);
    expect(stepOrderProblems(p)).toEqual([]);
    const grant = p.steps.find((x) => x.id === 'grant:web_db')!;
    expect(grant.phase).toBe('cutover');
    // Its ALTER … OWNER and the reverse step's GRANTs on the same tables at once fail with "tuple concurrently updated".
    expect(p.steps.find((x) => x.id === 'start_reverse_replication:web_db')!.dependsOn).toContain('grant:web_db');
  });
});
