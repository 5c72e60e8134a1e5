import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import type { SplitFixture } from './helpers/split-fixture.js';
import { sharedSampleTemplate } from './helpers/shared-sample.js';
import { applyAndKill, CopyProgress } from './helpers/crash.js';
import { assertBuilt } from './helpers/cli.js';
import { qname } from '../../src/pg/quote.js';
import { parseKey } from '../../src/catalog/model.js';
import {
  CASE_TIMEOUT_MS,
  CASES_AT_ONCE,
  KILL_WAIT_MS,
  crashCase,
  dropAll,
  expectKilledIn,
  killAtPause,
  limit,
  referenceRun,
  started,
  stepsOf,
  type Reference,
} from './helpers/crash-case.js';

/**
 * kill -9 during the copy, one kill per case, then a resumed run and a full comparison
 * with an uninterrupted one (helpers/crash-case.ts). The sample at scale 5 makes the
 * largest copy last long enough to be killed in its middle; a second reference copies the
 * tables over 1 MB in key ranges, each range its own step. The cases and the
 * uninterrupted runs work on splits of their own, a few at once.
 */

const SCALE = 5;
const RANGES = { CLOUDPHONE_SPLIT_TABLES_LARGER_THAN: '1MB' };
let template: string;
const fixtures: SplitFixture[] = [];
const slot = limit(CASES_AT_ONCE);
let reference: Promise<Reference>;
let rangedReference: Promise<Reference>;

beforeAll(async () => {
  assertBuilt();
  template = await sharedSampleTemplate(servers().main, SCALE);
  reference = started(() => slot(() => referenceRun(template, fixtures)));
  rangedReference = started(() => slot(() => referenceRun(template, fixtures, RANGES)));
});

afterAll(async () => {
  await Promise.all([reference, rangedReference].map((r) => r?.catch(() => undefined)));
  await dropAll(fixtures);
});

describe('apply killed with SIGKILL during the copy, then run again, ends as an uninterrupted run', { concurrent: true, timeout: CASE_TIMEOUT_MS }, () => {
  it('in the middle of the COPY of the largest table: thousands of its rows already in the target', () =>
    slot(() =>
      crashCase(template, fixtures, reference, async (fx, plan, watch) => {
        const largest = stepsOf(plan, 'copy_data')[0]!;
        const db = fx.services.find((s) => s.database === largest.target.database)!;
        const progress = new CopyProgress(db.url, largest.table!);
        let copying = false;
        try {
          const k = await applyAndKill(
            fx,
            watch,
            async (since) => {
              copying = (await watch.runningAmong([largest.id], since)).length > 0;
              return copying && (await progress.rows()) > 2000;
            },
            // Calm until the copy runs; then as often as the two kept connections answer.
            { pollMs: () => (copying ? 1 : 20), timeoutMs: KILL_WAIT_MS },
          );
          expectKilledIn(k, largest.id);
        } finally {
          await progress.close();
        }
      }),
    ));

  it('after a copy committed its rows, before the journal recorded it: the rerun does not copy them twice', () =>
    slot(() =>
      crashCase(template, fixtures, reference, async (fx, plan, watch) => {
        const copies = stepsOf(plan, 'copy_data');
        const { stepId } = await killAtPause(fx, watch, 'after', copies.map((s) => s.id));
        const step = copies.find((s) => s.id === stepId)!;
        const db = fx.services.find((s) => s.database === step.target.database)!;
        const table = qname(parseKey(step.table!));
        const [n] = await query<{ n: number }>(db.url, `SELECT count(*)::int AS n FROM ONLY ${table}`);
        const [src] = await query<{ n: number }>(fx.sourceUrl, `SELECT count(*)::int AS n FROM ONLY ${table}`);
        expect(n!.n, `${step.table} committed in the target`).toBe(src!.n);
      }),
    ));

  it('copied in key ranges: after a later range committed its rows and marker, before the journal recorded it', () =>
    slot(() =>
      crashCase(
        template,
        fixtures,
        rangedReference,
        async (fx, plan, watch) => {
          const later = stepsOf(plan, 'copy_data').filter((s) => s.range !== null && s.range.index > 0);
          expect(later.length).toBeGreaterThan(2);
          const { stepId } = await killAtPause(fx, watch, 'after', later.map((s) => s.id));
          expect(stepId).toMatch(/#\d+\/\d+$/);
          const db = fx.services.find((s) => s.database === later.find((r) => r.id === stepId)!.target.database)!;
          expect(await query(db.url, `SELECT 1 FROM cloudphone_split.done WHERE starts_with(step_id, $1)`, [`${stepId}@`])).not.toHaveLength(0);
        },
        { env: RANGES },
      ),
    ));
});
