import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import type { SplitFixture } from './helpers/split-fixture.js';
import { sharedSampleTemplate } from './helpers/shared-sample.js';
import { applyAndKill, holdLock } from './helpers/crash.js';
import { assertBuilt } from './helpers/cli.js';
import {
  CASE_TIMEOUT_MS,
  CASES_AT_ONCE,
  KILL_WAIT_MS,
  PAUSE_POLL_MS,
  crashCase,
  dropAll,
  expectKilledIn,
  killAtPause,
  limit,
  sharedReferenceRun,
  stepsOf,
  type Reference,
} from './helpers/crash-case.js';

/**
 * kill -9 in the first steps of apply, one kill per case at a moment the test proves
 * (the journal shows the step running and the tool waits on a lock the test holds), then
 * a resumed run and a full comparison with an uninterrupted one (helpers/crash-case.ts).
 * The cases and the uninterrupted run work on splits of their own, a few at once.
 */

let template: string;
const fixtures: SplitFixture[] = [];
const slot = limit(CASES_AT_ONCE);
let reference: Promise<Reference>;

beforeAll(async () => {
  assertBuilt();
  template = await sharedSampleTemplate(servers().main, 1);
  reference = sharedReferenceRun(servers().main, template, fixtures, slot);
});

afterAll(async () => {
  await reference?.catch(() => undefined);
  await dropAll(fixtures);
});

/** A case of this file: a fresh split, `kill`, apply again, compare with the reference. */
const killCase = (kill: Parameters<typeof crashCase>[3]) => () => slot(() => crashCase(template, fixtures, reference, kill));

describe('apply killed with SIGKILL early, then run again, ends as an uninterrupted run', { concurrent: true, timeout: CASE_TIMEOUT_MS }, () => {
  it(
    'at start-up: preflight recorded running, nothing checked yet',
    killCase(async (fx, plan, watch) => {
      await killAtPause(fx, watch, 'before', stepsOf(plan, 'preflight').map((s) => s.id));
    }),
  );

  it(
    'after create_role created a role (with its password), before the journal recorded it',
    killCase(async (fx, plan, watch) => {
      const { stepId } = await killAtPause(fx, watch, 'after', stepsOf(plan, 'create_role').map((s) => s.id));
      const role = stepId.split(':').pop()!;
      expect(await query(fx.sourceServer, `SELECT 1 FROM pg_roles WHERE rolname = $1`, [role]), `role ${role} exists`).toHaveLength(1);
    }),
  );

  it(
    'after create_database created a database, before the journal recorded it',
    killCase(async (fx, plan, watch) => {
      const { stepId } = await killAtPause(fx, watch, 'after', stepsOf(plan, 'create_database').map((s) => s.id));
      const db = fx.services.find((s) => stepId === `create_database:${s.database}`)!;
      expect(await query(db.serverUrl, `SELECT 1 FROM pg_database WHERE datname = $1`, [db.database])).toHaveLength(1);
    }),
  );

  it(
    'after create_schema committed (with its marker), before the journal recorded it',
    killCase(async (fx, plan, watch) => {
      const { stepId } = await killAtPause(fx, watch, 'after', stepsOf(plan, 'create_schema').map((s) => s.id));
      const db = fx.services.find((s) => stepId === `create_schema:${s.database}`)!;
      expect(await query(db.url, `SELECT step_id FROM cloudphone_split.done WHERE step_id = $1`, [stepId])).toHaveLength(1);
    }),
  );

  it(
    'inside fence_source: its CREATE TRIGGER waits for a lock a session of the test holds on a moved table',
    killCase(async (fx, plan, watch) => {
      // One fence step per service: the one of the table the test locks.
      const fence = stepsOf(plan, 'fence_source').find((f) => f.tables.includes('public.devices'))!;
      const lock = await holdLock(fx.sourceUrl, `LOCK TABLE public.devices IN ROW EXCLUSIVE MODE`);
      const k = await applyAndKill(
        fx,
        watch,
        async (since) => (await watch.runningAmong([fence.id], since)).length > 0 && (await watch.waitingOnLock(fx.sourceServer, fx.sourceDb)),
        // The step waits for the lock until the kill: a calm poll does not miss it.
        { afterKill: () => lock.release(), timeoutMs: KILL_WAIT_MS, pollMs: PAUSE_POLL_MS },
      );
      expectKilledIn(k, fence.id);
      // The fence's transaction died with the process: no trigger is left half made.
      const tables = fence.tables.map((t) => `'${t}'::regclass`).join(', ');
      expect(await query(fx.sourceUrl, `SELECT 1 FROM pg_trigger WHERE tgname = 'cloudphone_split_fence' AND tgrelid IN (${tables})`)).toHaveLength(0);
    }),
  );
});
