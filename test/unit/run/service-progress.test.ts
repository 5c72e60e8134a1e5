import { describe, expect, it } from 'vitest';
import type { Plan } from '../../../src/plan/model.js';
import type { RunStatus } from '../../../src/engine/journal.js';
import { splitProgress } from '../../../src/run/service-progress.js';
import { serviceLines } from '../../../src/cli/views/service-progress.js';
import type { Output } from '../../../src/cli/output.js';
import { CatalogBuilder } from '../manifest/catalog-builder.js';
import { planFrom } from '../plan/plan-from.js';

const MANIFEST = `version: 1
name: parts
mode: offline
source: { url: "\${SRC}" }
services:
  ci:
    database: ci_db
    tables: [builds]
  web:
    database: web_db
    tables: [projects]
`;

function plan(mode: 'offline' | 'online' = 'offline'): Plan {
  const text = MANIFEST.replace('mode: offline', `mode: ${mode}`);
  return planFrom(text, new CatalogBuilder(['public']).table('builds', { columns: ['id'] }).table('projects', { columns: ['id'] }).build());
}

const plain = { c: new Proxy({}, { get: () => (s: string) => s }) } as unknown as Pick<Output, 'c'>;

describe('status: each service of the split', () => {
  const p = plan();
  const of = (service: string) => p.steps.filter((s) => s.service === service).map((s) => s.id);

  it('counts steps done over every run, and says retention waits for the last service', () => {
    const done = new Set([p.steps[0]!.id, ...of('ci')]);
    const running = of('web')[0]!;
    const newest: RunStatus = { id: 2, state: 'running', startedAt: '', finishedAt: null, planHash: 'h', steps: [{ id: running, kind: 'create_database', state: 'running' }] };
    const progress = splitProgress(p, done, newest);
    expect(progress.services.map((s) => [s.name, s.state, s.stepsDone, s.steps])).toEqual([
      ['ci', 'applied', of('ci').length, of('ci').length],
      ['web', 'running', 0, of('web').length],
    ]);
    expect(progress.retention).toBe('waiting');
    const lines = serviceLines({ name: 'parts', services: progress.services, retention: progress.retention }, plain);
    expect(lines[0]).toBe('services of split parts: 1 of 2 applied; retention starts after the last');
    expect(lines[1]).toMatch(/^ {2}ci +applied +\d+\/\d+ steps done {2}ci_db$/);
  });

  it('shows a failed or partly applied service, and retention scheduled once every step is done', () => {
    const someWeb = of('web').slice(0, 2);
    const failed: RunStatus = { id: 3, state: 'failed', startedAt: '', finishedAt: '', planHash: 'h', steps: [{ id: of('web')[2]!, kind: 'x', state: 'failed', error: 'boom' }] };
    expect(splitProgress(p, new Set(someWeb), failed).services[1]!.state).toBe('failed');
    expect(splitProgress(p, new Set(someWeb), undefined).services[1]!.state).toBe('partly applied');
    const all = splitProgress(p, new Set(p.steps.map((s) => s.id)), undefined);
    expect(all.applied).toBe(2);
    expect(all.retention).toBe('scheduled');
  });

  it('online: a service applied on its own replicates, the other is not applied; cut over once its cutover steps are done', () => {
    const o = plan('online');
    const apply = (service: string) => o.steps.filter((s) => s.service === service && (s.phase ?? 'apply') === 'apply').map((s) => s.id);
    const one = splitProgress(o, new Set([o.steps[0]!.id, ...apply('ci')]), undefined);
    expect(one.services.map((s) => [s.name, s.state])).toEqual([
      ['ci', 'replicating'],
      ['web', 'not applied'],
    ]);
    expect(one.applied).toBe(1);
    // schedule_retention is a cutover step: nothing waits for the last apply.
    expect(one.retention).toBe('none');
    expect(serviceLines({ name: 'parts', services: one.services, retention: one.retention }, plain)[0]).toBe('services of split parts: 1 of 2 applied');
    const both = splitProgress(o, new Set([o.steps[0]!.id, ...apply('ci'), ...apply('web')]), undefined);
    expect(both.services.map((s) => s.state)).toEqual(['replicating', 'replicating']);
    const cut = splitProgress(o, new Set(o.steps.filter((s) => s.phase !== 'reverse' && s.phase !== 'complete').map((s) => s.id)), undefined);
    expect(cut.services.map((s) => s.state)).toEqual(['cut over', 'cut over']);
    expect(cut.retention).toBe('scheduled');
    // A rollback through reverse replication that has begun (its first step done) and not ended.
    const fence = o.steps.find((s) => s.phase === 'reverse')!;
    const back = splitProgress(o, new Set([...o.steps.filter((s) => s.phase !== 'reverse' && s.phase !== 'complete').map((s) => s.id), fence.id]), undefined);
    expect(back.services.map((s) => s.state)).toEqual(['rolling back', 'rolling back']);
    expect(back.applied).toBe(2);
  });
});
