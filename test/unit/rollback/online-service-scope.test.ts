import { describe, expect, it } from 'vitest';
import type { Plan } from '../../../src/plan/model.js';
import type { CreatedObject } from '../../../src/steps/handler.js';
import type { RollbackInventory } from '../../../src/rollback/rollback-inventory.js';
import { onlineScope } from '../../../src/rollback/online-service-scope.js';
import { serviceScope } from '../../../src/rollback/service-scope.js';
import { BadInputError } from '../../../src/errors.js';
import { CatalogBuilder } from '../manifest/catalog-builder.js';
import { planFrom } from '../plan/plan-from.js';

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
`;

function plan(mode: 'offline' | 'online'): Plan {
  return planFrom(MANIFEST(mode), new CatalogBuilder(['public']).table('builds', { columns: ['id'] }).table('projects', { columns: ['id'] }).build());
}

const applySteps = (p: Plan) => p.steps.filter((s) => (s.phase ?? 'apply') === 'apply').map((s) => s.id);

describe('rollback --service of an online split', () => {
  it("before cutover: only those services' publication, slot and subscription", () => {
    const p = plan('online');
    const scope = onlineScope(p, new Set(applySteps(p)), ['ci']);
    expect(scope.steps.map((s) => s.id)).toEqual(['start_replication:ci_db']);
    const [ci] = scope.steps;
    const [web] = onlineScope(p, new Set(), ['web']).steps;
    const records = (s: typeof ci): CreatedObject[] => [
      { kind: 'publication', server: 'source', name: s!.publication },
      { kind: 'slot', server: 'source', name: s!.slot },
      { kind: 'subscription', server: s!.target.server, name: s!.subscription },
    ];
    expect(scope.recorded([...records(ci), ...records(web)])).toEqual(records(ci));
  });

  it('after the cutover started: refused, the whole split goes back through reverse replication', () => {
    const p = plan('online');
    const fence = p.steps.find((s) => s.kind === 'fence_source' && s.phase === 'cutover')!;
    const refused = (() => {
      try {
        onlineScope(p, new Set([...applySteps(p), fence.id]), ['ci']);
      } catch (err) {
        return err;
      }
      return null;
    })();
    expect(refused).toBeInstanceOf(BadInputError);
    expect((refused as BadInputError).message).toMatch(/ci cannot be rolled back alone/);
    expect((refused as BadInputError).hint).toContain('rollback without --service');
    // Before the cutover, nothing refuses.
    expect(() => onlineScope(p, new Set(applySteps(p)), ['ci'])).not.toThrow();
  });

  it("an offline plan has no replication to drop; another service's copy refuses offline, not online", () => {
    expect(onlineScope(plan('offline'), new Set(), ['ci']).steps).toEqual([]);
    const inv = { prior: null, retention: undefined, config: [], databases: [], adopted: [], roles: [], fence: undefined } as unknown as RollbackInventory;
    const off = plan('offline');
    expect(serviceScope(off, inv, ['ci'], new Set(applySteps(off))).refusals.join('\n')).toMatch(/web \(applied\) copied public\.builds/);
    const on = plan('online');
    expect(serviceScope(on, inv, ['ci'], new Set(applySteps(on))).refusals).toEqual([]);
  });
});
