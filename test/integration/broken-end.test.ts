import { afterAll, describe, expect, it } from 'vitest';
import { query, servers, uniquePrefix, withDatabase } from '../harness/servers.js';
import { Pools } from '../../src/pg/pools.js';
import { brokenEnd } from '../../src/pg/connection-loss.js';
import { Journal } from '../../src/engine/journal.js';
import { runPlan } from '../../src/engine/executor.js';
import { toyHandlers, toyPlan } from '../unit/engine/toy-plan.js';

const prefix = uniquePrefix();
afterAll(async () => {
  await query(servers().main, `DROP DATABASE IF EXISTS "${prefix}control" WITH (FORCE)`);
});

/**
 * A lost connection was blamed on the step's target whatever broke: a source restart
 * during `repoint_config` (the journal lives on the source's server) read "lost the
 * connection to database probe_device on server second". The end named is the one that
 * does not answer when asked right after.
 */
describe('the end a lost connection is blamed on', () => {
  // A port nothing listens on: what a stopped server looks like.
  const down = 'postgres://postgres:x@127.0.0.1:1/postgres';

  it('is the source when the target answers and the source does not', async () => {
    const pools = new Pools({ source: down, target: servers().main }, 1);
    try {
      expect(await brokenEnd(pools, { server: 'target', database: 'postgres' })).toEqual({ server: 'source' });
    } finally {
      await pools.end();
    }
  });

  it('is the target when it does not answer, and the target when both answer again', async () => {
    const pools = new Pools({ source: servers().main, target: down, live: withDatabase(servers().main, 'postgres') }, 1);
    try {
      expect(await brokenEnd(pools, { server: 'target', database: 'x' })).toEqual({ server: 'target', database: 'x' });
      expect(await brokenEnd(pools, { server: 'live', database: 'postgres' })).toEqual({ server: 'live', database: 'postgres' });
      expect(await brokenEnd(pools, null)).toEqual({ server: 'source' });
    } finally {
      await pools.end();
    }
  });

  it('is what a failed step names: the source, when a step whose target answers lost its connection and the source is down', async () => {
    const journal = await Journal.open(withDatabase(servers().main, `${prefix}control`));
    const pools = new Pools({ source: down, target: servers().main }, 1);
    try {
      const plan = toyPlan('ends', [{ id: 'repoint', kind: 'repoint_config' }]);
      // The toy step's target, as a real repoint_config step has one.
      Object.assign(plan.steps[0]!, { target: { service: 'a', server: 'target', database: 'postgres' } });
      const handlers = toyHandlers(async () => {
        throw Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
      });
      const summary = await runPlan({
        plan, handlers, pools, journal, jobs: 1, env: {}, baseDir: '.', progress: { emit: () => undefined },
        signal: new AbortController().signal, snapshot: async () => 'none',
      }).catch((err: unknown) => err as Error);
      expect(String((summary as Error).message ?? summary)).toMatch(/lost the connection to the source server \(127\.0\.0\.1:1\) while running repoint/);
    } finally {
      await pools.end();
      await journal.close();
    }
  });
});
