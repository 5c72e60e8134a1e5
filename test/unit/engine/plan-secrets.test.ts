import { describe, expect, it } from 'vitest';
import { planSecrets } from '../../../src/engine/plan-secrets.js';
import { toyPlan } from './toy-plan.js';

describe('planSecrets', () => {
  it('collects URL passwords and secret-named variables the manifest references', () => {
    const plan = toyPlan('s', [], 'source:\n  url: ${SRC}\nservers:\n  b: ${B_URL:-postgres://x@y/z}\nrole: ${DB_PASSWORD}\nname: ${NAME}\n');
    const env = { SRC: 'postgres://u:p%40ss-word@h/db', B_URL: 'postgres://nopass@h/db', DB_PASSWORD: 'hunter22', NAME: 'cloudphone', OTHER_PASSWORD: 'unused!' };
    expect(planSecrets(plan, env).sort()).toEqual(['hunter22', 'p%40ss-word', 'p@ss-word'].sort());
  });
});
