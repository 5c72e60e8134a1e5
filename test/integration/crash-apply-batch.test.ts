import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import type { SplitFixture } from './helpers/split-fixture.js';
import { sharedSampleTemplate } from './helpers/shared-sample.js';
import type { SplitWatch } from './helpers/crash.js';
import { assertBuilt } from './helpers/cli.js';
import { qname } from '../../src/pg/quote.js';
import { parseKey } from '../../src/catalog/model.js';
import { BATCH_BYTES, plannedBytes } from '../../src/steps/batch-size.js';
import type { Plan } from '../../src/plan/model.js';
import { CASE_TIMEOUT_MS, CASES_AT_ONCE, crashCase, dropAll, killAtPause, limit, sharedReferenceRun, stepsOf, type Reference } from './helpers/crash-case.js';

/**
 * kill -9 inside a batch of small steps (src/steps/handler.ts, StepBatch: many tables'
 * index steps, or copies, in one transaction of their target and one journal write),
 * one kill per case at a moment the test proves (the tool waits on a pause lock the
 * test holds, and the journal shows the batch's steps running together), then a
 * resumed run and a full comparison with an uninterrupted one (helpers/crash-case.ts).
 * The cases and the uninterrupted run work on splits of their own, at once.
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

/** Index steps of small tables: the ones that run in batches. */
function batchedIndexSteps(plan: Plan) {
  return stepsOf(plan, 'create_indexes').filter((s) => s.table !== undefined && (plannedBytes(plan, s.table) ?? Infinity) <= BATCH_BYTES);
}

/** The steps the journal shows running together with `stepId` (same kind, same start: one batch). */
async function batchOf(watch: SplitWatch, stepId: string): Promise<string[]> {
  const steps = await watch.steps();
  const mine = steps.get(stepId)!;
  expect(mine.state).toBe('running');
  const kind = stepId.split(':')[0]!;
  return [...steps].filter(([id, s]) => id.startsWith(`${kind}:`) && s.state === 'running' && s.startedAt?.getTime() === mine.startedAt?.getTime()).map(([id]) => id);
}

async function markers(url: string, ids: string[]): Promise<string[]> {
  const r = await query<{ step_id: string }>(url, `SELECT step_id FROM cloudphone_split.done WHERE step_id = ANY($1::text[]) ORDER BY 1`, [ids]);
  return r.map((x) => x.step_id);
}

describe('apply killed with SIGKILL inside a batch of small steps, then run again, ends as an uninterrupted run', { concurrent: true, timeout: CASE_TIMEOUT_MS }, () => {
  it('index steps: inside the batch transaction, a table\'s indexes built but not committed', () =>
    slot(() =>
      crashCase(template, fixtures, reference, async (fx, plan, watch) => {
        const candidates = batchedIndexSteps(plan);
        expect(candidates.length).toBeGreaterThan(2);
        const { stepId } = await killAtPause(fx, watch, 'within', candidates.map((s) => s.id));
        const batch = await batchOf(watch, stepId);
        expect(batch.length, `one batch: ${batch.join(', ')}`).toBeGreaterThan(1);
        const step = candidates.find((s) => s.id === stepId)!;
        const db = fx.services.find((s) => s.database === step.target.database)!;
        // Its statements ran in the batch's transaction, which never committed.
        expect(await markers(db.url, batch)).toEqual([]);
      }),
    ));

  it('index steps: after the batch committed, before the journal recorded any of it: the rerun does not build them again', () => {
    let batch: string[] = [];
    return slot(() =>
      crashCase(
        template,
        fixtures,
        reference,
        async (fx, plan, watch) => {
          const candidates = batchedIndexSteps(plan);
          const { stepId } = await killAtPause(fx, watch, 'after', candidates.map((s) => s.id));
          batch = await batchOf(watch, stepId);
          expect(batch.length, `one batch: ${batch.join(', ')}`).toBeGreaterThan(1);
          const db = fx.services.find((s) => s.database === candidates.find((c) => c.id === stepId)!.target.database)!;
          expect(await markers(db.url, batch)).toEqual([...batch].sort());
        },
        {
          // The resumed run found every step of the batch committed (its marker) and ran none of its statements again.
          after: async (fx) => {
            const details = await query<{ step_id: string; skipped: string | null }>(
              fx.controlUrl,
              `SELECT s.step_id, s.detail->>'skipped' AS skipped FROM cloudphone_split.steps s JOIN cloudphone_split.runs r ON r.id = s.run_id
                WHERE r.split = $1 AND r.state = 'succeeded' AND s.step_id = ANY($2::text[])`,
              [fx.name, batch],
            );
            expect(details).toHaveLength(batch.length);
            expect(details.filter((d) => d.skipped !== 'true')).toEqual([]);
          },
        },
      ),
    );
  });

  it('copies: inside the batch transaction, a table\'s rows copied but not committed', () =>
    slot(() =>
      crashCase(template, fixtures, reference, async (fx, plan, watch) => {
        const small = stepsOf(plan, 'copy_data').filter((s) => s.range === null && s.bytes <= BATCH_BYTES);
        // Tables with rows in the source: an uncommitted copy of them shows as an empty target table.
        const withRows: typeof small = [];
        for (const s of small) {
          const [r] = await query<{ n: number }>(fx.sourceUrl, `SELECT count(*)::int AS n FROM ONLY ${qname(s.source)}`);
          if (r!.n > 0) withRows.push(s);
        }
        expect(withRows.length).toBeGreaterThan(2);
        const { stepId } = await killAtPause(fx, watch, 'within', withRows.map((s) => s.id));
        const batch = await batchOf(watch, stepId);
        expect(batch.length, `one batch: ${batch.join(', ')}`).toBeGreaterThan(1);
        const step = withRows.find((s) => s.id === stepId)!;
        const db = fx.services.find((s) => s.database === step.target.database)!;
        const [n] = await query<{ n: number }>(db.url, `SELECT count(*)::int AS n FROM ONLY ${qname(parseKey(step.table!))}`);
        expect(n!.n, `${step.table}: its copied rows are not committed`).toBe(0);
      }),
    ));
});
