import { describe, expect, it } from 'vitest';
import { readySteps } from '../../../src/engine/schedule.js';
import { toySteps } from './toy-plan.js';

const ids = (steps: { id: string }[]) => steps.map((s) => s.id);

describe('readySteps: a table\'s indexes overlap the copies still to come', () => {
  const steps = toySteps([
    { id: 'schema', kind: 'create_schema' },
    { id: 'c-big', kind: 'copy_data', bytes: 5000, dependsOn: ['schema'], table: 'public.big' },
    { id: 'c-mid', kind: 'copy_data', bytes: 500, dependsOn: ['schema'], table: 'public.mid' },
    { id: 'c-small', kind: 'copy_data', bytes: 5, dependsOn: ['schema'], table: 'public.small' },
    { id: 'i-big', kind: 'create_indexes', dependsOn: ['c-big'], table: 'public.big' },
    { id: 'i-mid', kind: 'create_indexes', dependsOn: ['c-mid'], table: 'public.mid' },
    { id: 'fks', kind: 'create_indexes', dependsOn: ['i-big', 'i-mid'] },
    { id: 'grant', kind: 'grant', dependsOn: ['schema'] },
  ]);

  it('takes a table\'s ready index step before the ready copies, in plan order', () => {
    expect(ids(readySteps(steps, new Set(['schema', 'c-big']), new Set(['c-mid'])))).toEqual(['i-big', 'c-small', 'grant']);
    expect(ids(readySteps(steps, new Set(['schema', 'c-big', 'c-mid']), new Set()))).toEqual(['i-big', 'i-mid', 'c-small', 'grant']);
  });

  it('keeps the plan order for index steps without a table and once no copy is ready', () => {
    expect(ids(readySteps(steps, new Set(['schema', 'c-big', 'c-mid', 'c-small', 'i-big', 'i-mid']), new Set()))).toEqual(['fks', 'grant']);
    expect(ids(readySteps(steps, new Set(['schema', 'c-big', 'c-mid', 'c-small']), new Set()))).toEqual(['i-big', 'i-mid', 'grant']);
  });
});
