import { afterAll, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import { keepingSource, splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { SplitWatch } from './helpers/crash.js';
import { assertBuilt, runSpawned } from './helpers/cli.js';
import { inProcess, killAtPause, stepsOf } from './helpers/crash-case.js';

const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

/**
 * A split that keeps its source in use marks each moved table as its backup with a
 * comment (schedule_retention). Killed after that step, before the run was recorded as
 * finished, the same plan file run again compares the source with the plan: its own marks
 * must not read as a schema changed since the plan (exit 4, stale), or it never finishes.
 */
describe('apply killed after schedule_retention of a split that keeps its source', () => {
  it('runs again with its plan file to the end, its own backup marks not taken for a changed source', async () => {
    assertBuilt();
    const fx = await splitFixture({ source: servers().main, scale: 0.05, edit: keepingSource(['user-service']) });
    fixtures.push(fx);
    const plan = await inProcess(() => fx.plan());
    const retention = stepsOf(plan, 'schedule_retention');
    // The journal's database, made ahead so that the test can watch the run from its start.
    await query(fx.sourceServer, `CREATE DATABASE "${decodeURIComponent(fx.controlUrl.split('/').pop()!)}"`);
    const watch = await SplitWatch.open(fx);
    try {
      await killAtPause(fx, watch, 'after', retention.map((s) => s.id), { args: ['apply', fx.planFile, '--yes'] });
    } finally {
      await watch.close();
    }
    const again = await runSpawned(['apply', fx.planFile, '--yes'], fx.env);
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(again.stdout).toMatch(/already done/);
  });
});
