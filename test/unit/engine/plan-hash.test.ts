import { describe, expect, it } from 'vitest';
import { planHash } from '../../../src/engine/plan-hash.js';
import { toyPlan } from './toy-plan.js';

describe('planHash', () => {
  it('is the sha256 of the steps, blind to everything else in the plan', () => {
    const a = toyPlan('x', [{ id: 'a' }]);
    const b = { ...toyPlan('y', [{ id: 'a' }]), warnings: ['w'] };
    expect(planHash(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(planHash(b)).toBe(planHash(a));
    expect(planHash(toyPlan('x', [{ id: 'a', dependsOn: [] }, { id: 'b' }]))).not.toBe(planHash(a));
  });

  it('ignores the statistics estimates of a step, and nothing else of it', () => {
    const a = toyPlan('x', [{ id: 'a', bytes: 100 }]);
    const moved = toyPlan('x', [{ id: 'a', bytes: 9000 }]);
    const step = moved.steps[0] as unknown as Record<string, unknown>;
    step.rowsEstimate = 12345;
    step.analyzed = false;
    expect(planHash(moved)).toBe(planHash(a));
    const otherSql = toyPlan('x', [{ id: 'a', bytes: 100 }]);
    (otherSql.steps[0] as unknown as Record<string, unknown>).sql = ['SELECT 2'];
    expect(planHash(otherSql)).not.toBe(planHash(a));
    const otherTable = toyPlan('x', [{ id: 'a', bytes: 100, table: 'public.t' }]);
    expect(planHash(otherTable)).not.toBe(planHash(a));
  });
});
