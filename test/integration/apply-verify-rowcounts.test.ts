import { afterAll, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { spawnCli } from './helpers/cli.js';
import { holdPauseLocks, pausedSteps, stepsOf } from './helpers/crash-case.js';
import { TEST_PAUSE_ENV } from '../../src/engine/test-pause.js';
import { qname } from '../../src/pg/quote.js';
import { parseKey } from '../../src/catalog/model.js';
import { setTimeout as sleep } from 'node:timers/promises';

const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

describe('verify_rowcounts', () => {
  it('stops apply (exit 3) when a target table lost rows after its copy, naming the table and both counts', async () => {
    const fx = await splitFixture({ source: servers().main, scale: 0.3 });
    fixtures.push(fx);
    const plan = await fx.plan();
    const step = stepsOf(plan, 'verify_rowcounts').find((s) => s.tables.length > 0)!;
    const db = fx.services.find((s) => s.database === step.target.database)!;
    const table = step.tables[0]!;
    // apply waits right before that step (src/engine/test-pause.ts) while a row of its table goes.
    const locks = await holdPauseLocks(fx, [step.id]);
    const cli = spawnCli(['apply', fx.planFile, '--yes', '--jobs', '2'], { ...fx.env, [TEST_PAUSE_ENV]: `before:${step.id}` });
    let released = false;
    try {
      while ((await pausedSteps(fx, [step.id])).length === 0) await sleep(20);
      const [before] = await query<{ n: number }>(db.url, `SELECT count(*)::int AS n FROM ONLY ${qname(parseKey(table))}`);
      expect(before!.n).toBeGreaterThan(0);
      await query(db.url, `DELETE FROM ONLY ${qname(parseKey(table))} WHERE ctid = (SELECT min(ctid) FROM ONLY ${qname(parseKey(table))})`);
      await locks.release();
      released = true;
      const r = await cli.done;
      expect(r.code, r.stdout).toBe(3);
      expect(r.stderr + r.stdout).toContain(`${table}: source snapshot ${before!.n} rows, target ${before!.n - 1}`);
    } finally {
      if (!released) await locks.release();
      cli.child.kill('SIGKILL');
    }
  });
});
