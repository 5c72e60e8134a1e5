import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import type { SplitFixture } from './helpers/split-fixture.js';
import { sharedSampleTemplate } from './helpers/shared-sample.js';
import { assertBuilt } from './helpers/cli.js';
import { CASE_TIMEOUT_MS, CASES_AT_ONCE, crashCase, dropAll, killAtPause, limit, sharedReferenceRun, stepsOf, type Reference } from './helpers/crash-case.js';
import type { Step } from '../../src/plan/model.js';

/**
 * kill -9 in the last steps of apply, one kill per case, each right after the step did its
 * work and before the journal recorded it (the run waits there on a lock the test holds:
 * src/engine/test-pause.ts), then a resumed run and a full comparison with an
 * uninterrupted one (helpers/crash-case.ts). The cases and the uninterrupted run work on
 * splits of their own, a few at once.
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

/** Kills apply after a step of `kind` (`which` of them) did its work, resumes, compares. */
function killAfter(
  kind: Step['kind'],
  check?: (fx: SplitFixture, stepId: string) => Promise<void>,
  which: (step: Step) => boolean = () => true,
): () => Promise<void> {
  return () =>
    slot(() =>
      crashCase(template, fixtures, reference, async (fx, plan, watch) => {
        const { stepId } = await killAtPause(fx, watch, 'after', stepsOf(plan, kind).filter(which).map((s) => s.id));
        expect((await watch.steps()).get(stepId)?.state, 'the journal never heard the step end').toBe('running');
        await check?.(fx, stepId);
      }),
    );
}

describe('apply killed with SIGKILL after a step did its work, before the journal recorded it, then run again', { concurrent: true, timeout: CASE_TIMEOUT_MS }, () => {
  it('create_indexes', killAfter('create_indexes'));

  it(
    'sync_sequences: the target sequences are already set',
    killAfter(
      'sync_sequences',
      async (fx, stepId) => {
        const db = fx.services.find((s) => stepId === `sync_sequences:${s.database}`)!;
        const [n] = await query<{ n: number }>(db.url, `SELECT count(*)::int AS n FROM pg_sequences WHERE last_value IS NOT NULL`);
        expect(n!.n, `sequences of ${db.database} set`).toBeGreaterThan(0);
      },
      (s) => s.kind === 'sync_sequences' && s.sequences.length > 0,
    ),
  );

  it(
    'grant: the service role already owns its database',
    killAfter('grant', async (fx, stepId) => {
      const db = fx.services.find((s) => stepId === `grant:${s.database}`)!;
      const [o] = await query<{ owner: string }>(db.serverUrl, `SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1`, [db.database]);
      expect(o!.owner).toBe(db.role);
    }),
  );

  it('verify_rowcounts', killAfter('verify_rowcounts'));

  it('repoint_config: the config files are already rewritten', killAfter('repoint_config'));

  it(
    'schedule_retention: the source is already read-only; the rerun runs the step again on it',
    killAfter('schedule_retention', async (fx) => {
      const [readOnly] = await query<{ setconfig: string[] }>(
        fx.sourceServer,
        `SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1`,
        [fx.sourceDb],
      );
      expect(readOnly?.setconfig).toContain('default_transaction_read_only=on');
    }),
  );
});
