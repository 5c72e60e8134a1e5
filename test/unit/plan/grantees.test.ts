import { describe, expect, it } from 'vitest';
import { missingGrantees } from '../../../src/plan/grantees.js';

describe('missingGrantees', () => {
  const work = [
    { server: 'source', database: 'a', role: null, grantees: ['ghost'] },
    { server: 'far', database: 'b', role: 'b_svc', grantees: ['reader', 'ghost', 'b_svc', 'c_svc'] },
    { server: 'far', database: 'c', role: 'c_svc', grantees: [] },
    { server: 'down', database: 'd', role: null, grantees: ['reader'] },
  ];

  it('names the grantees missing on each other server, counting the roles the split creates there', () => {
    const w = missingGrantees(work, { far: ['postgres', 'reader'], down: null });
    expect(w).toEqual([
      "role ghost does not exist on server far: the source's privileges to it are not carried into b (create it there before apply to carry them)",
      'could not read the roles of server down: privileges of d to reader are granted only to those that exist there when apply runs',
    ]);
  });

  it('says nothing when every grantee exists', () => {
    expect(missingGrantees(work.slice(0, 3), { far: ['reader', 'ghost'] })).toEqual([]);
  });
});
