import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../../src/manifest/load.js';
import { resolveManifest } from '../../../src/manifest/resolve.js';
import { buildPlan } from '../../../src/plan/build.js';
import type { PlanInput } from '../../../src/plan/input.js';
import type { ConfigEdit, Plan } from '../../../src/plan/model.js';
import { appliedServices, cutoverNotReady, parseServiceList, selectServices, servicePlanView } from '../../../src/plan/service-selection.js';
import { BadInputError } from '../../../src/errors.js';
import { readySteps } from '../../../src/engine/schedule.js';
import { CatalogBuilder } from '../manifest/catalog-builder.js';

const MANIFEST = (mode: string) => `version: 1
name: parts
mode: ${mode}
source: { url: "\${SRC}" }
services:
  ci:
    database: ci_db
    tables: [builds]
  web:
    database: web_db
    tables: [projects]
    copies: [builds]
  notify:
    database: notify_db
`;

const edit = (file: string): ConfigEdit => ({
  file,
  entry: 'DB=',
  beforeHash: null,
  afterHash: null,
  diff: '',
  spec: { file, key: 'DB', value: '{database}' } as ConfigEdit['spec'],
});

function plan(mode: 'offline' | 'online', configEdits: PlanInput['configEdits'] = {}): Plan {
  const manifest = parseManifest(MANIFEST(mode), 'split.yaml');
  const cat = new CatalogBuilder(['public']).table('builds', { columns: ['id', 'project_id'] }).table('projects', { columns: ['id', 'name:text'] }).build();
  const resolved = resolveManifest(manifest, cat, 'split.yaml');
  return buildPlan({
    manifest,
    manifestText: MANIFEST(mode),
    manifestPath: 'split.yaml',
    catalog: cat,
    services: resolved.services.map((s) => ({ spec: s.spec, tables: s.tables, copies: s.copies, views: s.views, denormalize: [] })),
    ignored: [],
    warnings: [],
    configEdits,
  });
}

/** Runs the selection as the executor would (waived links count as met) and returns the ids in the order they finish. */
function simulate(p: Plan, steps: ReadonlySet<string>, waived: ReadonlySet<string>, done: ReadonlySet<string>): string[] {
  const runnable = p.steps.filter((s) => steps.has(s.id));
  const finished = new Set(done);
  const order: string[] = [];
  for (;;) {
    const ready = readySteps(runnable, { has: (id) => finished.has(id) || (waived.has(id) && !steps.has(id)) }, new Set());
    if (ready.length === 0) break;
    finished.add(ready[0]!.id);
    order.push(ready[0]!.id);
  }
  return order;
}

describe('apply --service: the steps of some services', () => {
  it('gives each service its own fence, and every copy waits for every fence (one snapshot after all of them)', () => {
    const p = plan('offline');
    const fences = p.steps.filter((s) => s.kind === 'fence_source');
    expect(fences.map((f) => [f.id, f.service, f.kind === 'fence_source' && f.tables])).toEqual([
      ['fence_source:cloudphone_core:ci_db', 'ci', ['public.builds']],
      ['fence_source:cloudphone_core:web_db', 'web', ['public.projects']],
    ]);
    for (const c of p.steps.filter((s) => s.kind === 'copy_data')) expect(c.dependsOn).toEqual(expect.arrayContaining(fences.map((f) => f.id)));
  });

  it("selects one service's steps and the preflight, never another service's step, and holds retention back", () => {
    const p = plan('offline');
    const sel = selectServices(p, ['web'], new Set());
    const chosen = p.steps.filter((s) => sel.steps.has(s.id));
    expect(chosen.every((s) => s.service === 'web' || s.kind === 'preflight')).toBe(true);
    expect(chosen.map((s) => s.kind)).toEqual(expect.arrayContaining(['preflight', 'create_database', 'fence_source', 'copy_data', 'grant', 'verify_rowcounts']));
    // Its copy of ci's table is copied, not fenced: ci's fence is only an ordering link.
    expect(chosen.filter((s) => s.kind === 'copy_data').map((s) => s.table).sort()).toEqual(['public.builds', 'public.projects']);
    expect([...sel.waived]).toContain('fence_source:cloudphone_core:ci_db');
    expect(sel.heldBack.map((s) => s.kind)).toEqual(['schedule_retention']);
    expect(sel.appliedAfter).toEqual(['web']);
    // Every selected step can run: nothing waits for a step left out.
    expect(simulate(p, sel.steps, sel.waived, new Set()).sort()).toEqual([...sel.steps].sort());
  });

  it('runs schedule_retention with the last service, once the others are done', () => {
    const p = plan('offline');
    const first = selectServices(p, ['ci', 'notify'], new Set());
    const done = new Set(simulate(p, first.steps, first.waived, new Set()));
    expect(appliedServices(p, done)).toEqual(['ci', 'notify']);
    const last = selectServices(p, ['web'], done);
    expect(last.heldBack).toEqual([]);
    const order = simulate(p, last.steps, last.waived, done);
    expect(order.at(-1)).toBe('schedule_retention:cloudphone_core');
    expect(last.appliedAfter).toEqual(['ci', 'web', 'notify']);
    expect(appliedServices(p, new Set([...done, ...order]))).toEqual(['ci', 'web', 'notify']);
  });

  it('refuses a name that is not a service of the plan, suggesting the closest', () => {
    const p = plan('offline');
    expect(() => selectServices(p, ['wbe'], new Set())).toThrow(BadInputError);
    expect(() => selectServices(p, ['wbe'], new Set())).toThrow(/"wbe" is not a service of split parts \(did you mean web\?\)/);
    expect(() => servicePlanView(p, ['ci', 'billing'])).toThrow(/"billing" is not a service of split parts/);
    expect(() => selectServices(p, ['noti'], new Set())).toThrow(/"noti" is not a service of split parts \(did you mean notify\?\)/);
  });

  it('selects the apply steps of one service of an online plan: its replication starts, no cutover step runs', () => {
    const p = plan('online');
    const sel = selectServices(p, ['web'], new Set());
    const chosen = p.steps.filter((s) => sel.steps.has(s.id));
    expect(chosen.every((s) => (s.phase ?? 'apply') === 'apply')).toBe(true);
    expect(chosen.every((s) => s.service === 'web' || s.kind === 'preflight')).toBe(true);
    expect(chosen.map((s) => s.kind)).toEqual(expect.arrayContaining(['preflight', 'create_database', 'create_schema', 'start_replication', 'wait_sync', 'grant']));
    expect(chosen.filter((s) => s.kind === 'start_replication').map((s) => s.id)).toEqual(['start_replication:web_db']);
    expect(sel.waived.size).toBe(0);
    expect(sel.heldBack).toEqual([]);
    expect(sel.appliedAfter).toEqual(['web']);
    const done = new Set(simulate(p, sel.steps, sel.waived, new Set()));
    expect([...done].sort()).toEqual([...sel.steps].sort());
    // The rest afterwards: every apply step done, not one cutover step.
    const rest = selectServices(p, ['ci', 'notify'], done);
    const after = new Set([...done, ...simulate(p, rest.steps, rest.waived, done)]);
    expect(rest.appliedAfter).toEqual(['ci', 'web', 'notify']);
    expect(p.steps.filter((s) => (s.phase ?? 'apply') === 'apply').every((s) => after.has(s.id))).toBe(true);
    expect(p.steps.filter((s) => after.has(s.id)).some((s) => s.phase === 'cutover')).toBe(false);
  });

  it('cutover waits for every service of an online plan, naming those not applied', () => {
    const p = plan('online');
    const sel = selectServices(p, ['web'], new Set());
    const done = new Set(simulate(p, sel.steps, sel.waived, new Set()));
    const refusal = cutoverNotReady(p, done);
    expect(refusal).toBeInstanceOf(BadInputError);
    expect(refusal!.message).toMatch(/ci, notify are not applied yet[^]*\(replicating: web\)/);
    expect(refusal!.hint).toContain('apply --service ci,notify');
    const rest = selectServices(p, ['ci', 'notify'], done);
    expect(cutoverNotReady(p, new Set([...done, ...simulate(p, rest.steps, rest.waived, done)]))).toBeNull();
  });

  it('refuses a service whose config file another service edits first, until that one is done', () => {
    const p = plan('offline', { ci: [edit('app.env')], web: [edit('app.env')] });
    expect(() => selectServices(p, ['web'], new Set())).toThrow(/web cannot be applied without ci/);
    const ci = selectServices(p, ['ci'], new Set());
    const done = new Set(simulate(p, ci.steps, ci.waived, new Set()));
    expect(selectServices(p, ['web'], done).steps.has('repoint_config:web_db')).toBe(true);
  });

  it('refuses a plan whose one fence step fences every service (made before fences were per service)', () => {
    const p = plan('offline');
    const fences = p.steps.filter((s) => s.kind === 'fence_source');
    const old: Plan = { ...p, steps: p.steps.map((s) => (s.id === fences[0]!.id ? { ...s, service: undefined } : s)) };
    expect(() => selectServices(old, ['web'], new Set())).toThrow(/cannot be applied one service at a time/);
  });

  it('reads a comma-separated list', () => {
    expect(parseServiceList(' ci, web,,ci ')).toEqual(['ci', 'web']);
  });

  it('shows verify only the chosen services and their steps', () => {
    const view = servicePlanView(plan('offline'), ['ci']);
    expect(view.services.map((s) => s.name)).toEqual(['ci']);
    expect(view.steps.every((s) => s.service === undefined || s.service === 'ci')).toBe(true);
  });
});
