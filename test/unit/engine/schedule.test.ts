import { describe, expect, it } from 'vitest';
import { readySteps, stepGraphProblems } from '../../../src/engine/schedule.js';
import { toySteps } from './toy-plan.js';

const ids = (steps: { id: string }[]) => steps.map((s) => s.id);

describe('stepGraphProblems', () => {
  it('accepts dependencies on earlier steps', () => {
    expect(stepGraphProblems(toySteps([{ id: 'a' }, { id: 'b', dependsOn: ['a'] }]))).toEqual([]);
  });
  it('names duplicates, unknown and forward dependencies', () => {
    const problems = stepGraphProblems(
      toySteps([{ id: 'a', dependsOn: ['b'] }, { id: 'b' }, { id: 'b' }, { id: 'c', dependsOn: ['ghost', 'c'] }]),
    );
    expect(problems).toEqual([
      'step b appears twice',
      'step a depends on b, which comes after it',
      'step c depends on ghost, which is not in the plan',
      'step c depends on c, which comes after it',
    ]);
  });
});

describe('readySteps', () => {
  const steps = toySteps([
    { id: 'pre', kind: 'preflight' },
    { id: 'schema', kind: 'create_schema', dependsOn: ['pre'] },
    { id: 'c-small', kind: 'copy_data', bytes: 5, dependsOn: ['schema'] },
    { id: 'c-huge', kind: 'copy_data', bytes: 5000, dependsOn: ['schema'] },
    { id: 'c-mid', kind: 'copy_data', bytes: 500, dependsOn: ['schema'] },
    { id: 'idx', kind: 'create_indexes', table: 'public.small', dependsOn: ['c-small'] },
    { id: 'fks', kind: 'create_indexes', dependsOn: ['schema'] },
    { id: 'grant', kind: 'grant', dependsOn: ['pre'] },
  ]);

  it('offers only steps whose dependencies are finished, not active ones', () => {
    expect(ids(readySteps(steps, new Set(), new Set()))).toEqual(['pre']);
    expect(ids(readySteps(steps, new Set(), new Set(['pre'])))).toEqual([]);
    expect(ids(readySteps(steps, new Set(['pre']), new Set()))).toEqual(['schema', 'grant']);
  });

  it('takes ready copies largest first, before the other steps', () => {
    expect(ids(readySteps(steps, new Set(['pre', 'schema']), new Set()))).toEqual(['c-huge', 'c-mid', 'c-small', 'fks', 'grant']);
  });

  it("takes a table's index steps as soon as its copy is done, before the next copy", () => {
    expect(ids(readySteps(steps, new Set(['pre', 'schema', 'c-small']), new Set(['c-huge'])))).toEqual(['idx', 'c-mid', 'fks', 'grant']);
  });

  it('returns nothing once everything is finished', () => {
    expect(readySteps(steps, new Set(ids(steps)), new Set())).toEqual([]);
  });
});
