import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import type { SplitFixture } from './helpers/split-fixture.js';
import { sharedSampleTemplate } from './helpers/shared-sample.js';
import { SplitWatch } from './helpers/crash.js';
import { assertBuilt, runSpawned } from './helpers/cli.js';
import { CASE_TIMEOUT_MS, CASES_AT_ONCE, dropAll, killAtPause, limit, stepsOf } from './helpers/crash-case.js';
import { cutOver, expectRolledBack, sampleWriters, sourceSubscriptions, type TargetWriter } from './helpers/reverse.js';
import type { Plan, Step } from '../../src/plan/model.js';

/**
 * kill -9 inside a `rollback` after an online cutover (through reverse replication), one
 * kill per case, right after one of its steps did its work and before the journal
 * recorded it (src/engine/test-pause.ts), while the services still write to their new
 * databases; then `rollback` again must end exactly as an uninterrupted one does
 * (online-reverse.test.ts): every write back in the source, sequences past, config
 * restored, source unfenced, no replication left, the new databases kept and fenced.
 * The cases work on splits of their own (clones of one sample), at once.
 */

let template: string;
const fixtures: SplitFixture[] = [];
const writers: TargetWriter[] = [];
const slot = limit(CASES_AT_ONCE);

beforeAll(async () => {
  assertBuilt();
  template = await sharedSampleTemplate(servers().main, 0.2);
});

afterAll(async () => {
  for (const w of writers) await w.stop();
  await dropAll(fixtures);
});

function killRollbackAfter(kind: Step['kind'], proof: (fx: SplitFixture, plan: Plan, stepId: string) => Promise<void>): () => Promise<void> {
  return () => slot(() => rollbackCase(kind, proof));
}

async function rollbackCase(kind: Step['kind'], proof: (fx: SplitFixture, plan: Plan, stepId: string) => Promise<void>): Promise<void> {
  const { fx, plan, original } = await cutOver(fixtures, { template });
  const steps = stepsOf(plan, kind).filter((s) => s.phase === 'reverse');
  expect(steps.length, `${kind} steps of the rollback`).toBeGreaterThan(0);
  const ws = await sampleWriters(fx);
  writers.push(...ws);
  for (const w of ws) w.start();
  for (const w of ws) await w.reached(8);
  const watch = await SplitWatch.open(fx);
  try {
    const { stepId } = await killAtPause(fx, watch, 'after', steps.map((s) => s.id), { args: ['rollback', '-m', fx.manifestFile, '--yes'] });
    expect((await watch.steps()).get(stepId)?.state, 'the journal never heard the step end').toBe('running');
    await proof(fx, plan, stepId);
  } finally {
    await watch.close();
  }
  const again = await runSpawned(['rollback', '-m', fx.manifestFile, '--yes'], fx.env);
  expect(again.code, again.stderr + again.stdout).toBe(0);
  for (const w of ws) await w.finished();
  for (const w of ws) {
    expect(w.errors).toEqual([]);
    expect(w.fenced).toMatch(new RegExp(`has gone back to database ${fx.sourceDb}`));
  }
  await expectRolledBack(fx, plan, original, ws);
  await fx.cleanup();
}

const databaseOf = (plan: Plan, stepId: string): string => {
  const s = plan.steps.find((x) => x.id === stepId);
  if (!s || !('target' in s)) throw new Error(`${stepId} acts in no service database`);
  return s.target.database;
};

describe('rollback through reverse replication killed with SIGKILL and run again ends as an uninterrupted one', { concurrent: true, timeout: CASE_TIMEOUT_MS }, () => {
  it(
    'after fence_target fenced a new database, before the journal recorded it',
    killRollbackAfter('fence_target', async (fx, plan, stepId) => {
      const db = databaseOf(plan, stepId);
      const service = fx.services.find((s) => s.database === db)!;
      const fence = await query(service.url, `SELECT tgrelid::regclass::text FROM pg_trigger WHERE tgname = 'cloudphone_split_fence'`);
      expect(fence.length, `fence triggers in ${db}`).toBeGreaterThan(0);
      // The source is still fenced and subscribed.
      expect((await sourceSubscriptions(fx)).length).toBe(5);
    }),
  );

  it(
    'after unfence_source lifted the source fence, before the journal recorded it (config not restored yet)',
    killRollbackAfter('unfence_source', async (fx) => {
      expect(await query(fx.sourceUrl, `SELECT tgname FROM pg_trigger WHERE tgname LIKE 'cloudphone\\_split\\_fence%'`)).toEqual([]);
      const [ret] = await query<{ state: string }>(fx.controlUrl, `SELECT state FROM cloudphone_split.retention WHERE split = $1`, [fx.name]);
      expect(ret!.state).toBe('restored');
      expect((await sourceSubscriptions(fx)).length).toBe(5);
    }),
  );

  it(
    'after stop_reverse_replication dropped a subscription, before the journal recorded it',
    killRollbackAfter('stop_reverse_replication', async (fx, plan, stepId) => {
      const gone = plan.steps.find((s) => s.id === stepId);
      expect(gone?.kind).toBe('stop_reverse_replication');
      const subs = await sourceSubscriptions(fx);
      expect(subs.length).toBeLessThan(5);
      expect(subs).not.toContain((gone as { subscription: string }).subscription);
    }),
  );
});
