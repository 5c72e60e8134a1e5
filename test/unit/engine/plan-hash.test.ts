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
});
