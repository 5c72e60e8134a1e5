import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import { dropTemplate, sampleTemplate, type SplitFixture } from './helpers/split-fixture.js';
import { SplitWatch } from './helpers/crash.js';
import { assertBuilt } from './helpers/cli.js';
import { expectLikeUninterrupted, killAtPause, newSplit, referenceRun, resumeToEnd, stepsOf, type Reference } from './helpers/crash-case.js';
import type { Step } from '../../src/plan/model.js';

/**
 * kill -9 in the last steps of apply, one kill per case, each right after the step did its
 * work and before the journal recorded it (the run waits there on a lock the test holds:
 * src/engine/test-pause.ts), then a resumed run and a full comparison with an
 * uninterrupted one (helpers/crash-case.ts).
 */

let template: string;
const fixtures: SplitFixture[] = [];
let reference: Reference;

beforeAll(async () => {
  assertBuilt();
  template = await sampleTemplate(servers().main, 1);
  reference = await referenceRun(template, fixtures);
});

afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
  if (template) await dropTemplate(servers().main, template);
});

/** Kills apply after a step of `kind` (`which` of them) did its work, resumes, compares. */
async function killAfter(
  kind: Step['kind'],
  check?: (fx: SplitFixture, stepId: string) => Promise<void>,
  which: (step: Step) => boolean = () => true,
): Promise<void> {
  const { fx, plan } = await newSplit(template, fixtures);
  const watch = await SplitWatch.open(fx);
  try {
    const { stepId } = await killAtPause(fx, watch, 'after', stepsOf(plan, kind).filter(which).map((s) => s.id));
    expect((await watch.steps()).get(stepId)?.state, 'the journal never heard the step end').toBe('running');
    await check?.(fx, stepId);
  } finally {
    await watch.close();
  }
  await resumeToEnd(fx);
  await expectLikeUninterrupted(fx, plan, reference);
}

describe('apply killed with SIGKILL after a step did its work, before the journal recorded it, then run again', () => {
  it('create_indexes', async () => {
    await killAfter('create_indexes');
  });

  it('sync_sequences: the target sequences are already set', async () => {
    await killAfter(
      'sync_sequences',
      async (fx, stepId) => {
        const db = fx.services.find((s) => stepId === `sync_sequences:${s.database}`)!;
        const [n] = await query<{ n: number }>(db.url, `SELECT count(*)::int AS n FROM pg_sequences WHERE last_value IS NOT NULL`);
        expect(n!.n, `sequences of ${db.database} set`).toBeGreaterThan(0);
      },
      (s) => s.kind === 'sync_sequences' && s.sequences.length > 0,
    );
  });

  it('grant: the service role already owns its database', async () => {
    await killAfter('grant', async (fx, stepId) => {
      const db = fx.services.find((s) => stepId === `grant:${s.database}`)!;
      const [o] = await query<{ owner: string }>(db.serverUrl, `SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1`, [db.database]);
      expect(o!.owner).toBe(db.role);
    });
  });

  it('verify_rowcounts', async () => {
    await killAfter('verify_rowcounts');
  });

  it('repoint_config: the config files are already rewritten', async () => {
    await killAfter('repoint_config');
  });

  it('schedule_retention: the source is already read-only; the rerun runs the step again on it', async () => {
    await killAfter('schedule_retention', async (fx) => {
      const [readOnly] = await query<{ setconfig: string[] }>(
        fx.sourceServer,
        `SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1`,
        [fx.sourceDb],
      );
      expect(readOnly?.setconfig).toContain('default_transaction_read_only=on');
    });
  });
});
