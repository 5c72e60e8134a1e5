import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servers, query, uniquePrefix, createDatabase, withDatabase } from '../harness/servers.js';
import { Journal } from '../../src/engine/journal.js';
import { runPlan, type RunPlanOptions } from '../../src/engine/executor.js';
import { Pools } from '../../src/pg/pools.js';
import { StepFailedError } from '../../src/errors.js';
import type { Plan, Step } from '../../src/plan/model.js';
import type { StepContext, StepHandler, StepHandlers, StepResult } from '../../src/steps/handler.js';
import type { StepKind } from '../../src/plan/model.js';
import { toyHandlers, toyPlan } from '../unit/engine/toy-plan.js';

/**
 * The executor's batches (StepBatch in src/steps/handler.ts): ready steps a handler's
 * batch accepts, of one kind and key, run together, recorded running and done together;
 * a failed batch falls back to each step alone.
 */

const prefix = uniquePrefix();
let controlUrl: string;
let dataUrl: string;
let journal: Journal;
let pools: Pools;

beforeAll(async () => {
  dataUrl = await createDatabase(servers().main, `${prefix}data`);
  controlUrl = withDatabase(servers().main, `${prefix}control`);
  journal = await Journal.open(controlUrl);
  pools = new Pools({ source: dataUrl }, 4);
});
afterAll(async () => {
  await pools?.end();
  await journal?.close();
  await query(servers().main, `DROP DATABASE IF EXISTS "${prefix}data" WITH (FORCE)`);
  await query(servers().main, `DROP DATABASE IF EXISTS "${prefix}control" WITH (FORCE)`);
});

/** Journal states of the split's latest run, by step, as the handler sees them while it runs. */
async function journalStates(split: string, ids: string[]): Promise<string[]> {
  const r = await query<{ state: string }>(
    controlUrl,
    `SELECT s.state FROM cloudphone_split.steps s JOIN cloudphone_split.runs r ON r.id = s.run_id
      WHERE r.split = $1 AND r.state = 'running' AND s.step_id = ANY($2::text[]) ORDER BY s.ordinal`,
    [split, ids],
  );
  return r.map((x) => x.state);
}

interface Calls {
  batches: string[][];
  alone: string[];
  statesInBatch: string[][];
}

/** Toy handlers: every `copy_data` step with a table is batchable (key: its service), at most 3 a batch. */
function batchingHandlers(opts: { batchFails?: boolean; aloneFails?: (step: Step) => boolean } = {}): { handlers: StepHandlers; calls: Calls } {
  const calls: Calls = { batches: [], alone: [], statesInBatch: [] };
  const handlers = toyHandlers(async (_ctx: StepContext, step: Step): Promise<StepResult> => {
    calls.alone.push(step.id);
    if (opts.aloneFails?.(step)) throw new Error(`cannot copy ${step.id}`);
    return { rows: 1, detail: { alone: true } };
  });
  const copy: StepHandler<StepKind> = {
    ...handlers.copy_data,
    batch: {
      max: 3,
      accepts: (step) => step.table !== undefined,
      key: (step) => step.service ?? '',
      async run(ctx, steps) {
        calls.batches.push(steps.map((s) => s.id));
        calls.statesInBatch.push(await journalStates(ctx.plan.name, steps.map((s) => s.id)));
        if (opts.batchFails) throw new Error('the batch failed');
        return steps.map((s, i) => ({ rows: i, bytes: 10, detail: { batched: s.id } }));
      },
    },
  };
  return { handlers: { ...handlers, copy_data: copy } as StepHandlers, calls };
}

function options(plan: Plan, handlers: StepHandlers, jobs: number): RunPlanOptions {
  return { plan, handlers, pools, journal, jobs, env: {}, baseDir: '.', progress: { emit: () => undefined }, signal: new AbortController().signal, snapshot: async () => 'no-snapshot' };
}

const copies = (service: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ id: `copy-${service}-${i}`, kind: 'copy_data' as const, dependsOn: ['pre'], service, table: `public.${service}${i}` }));

describe('runPlan with batches', () => {
  it('runs ready steps of one kind and key together: running together before, done together after, in one journal write', async () => {
    const graph = [{ id: 'pre', kind: 'preflight' as const }, ...copies('a', 6), ...copies('b', 1), { id: 'end', kind: 'grant' as const, dependsOn: [...copies('a', 6), ...copies('b', 1)].map((c) => c.id) }];
    const plan = toyPlan('batches', graph);
    const { handlers, calls } = batchingHandlers();
    const summary = await runPlan(options(plan, handlers, 2));
    expect(summary).toMatchObject({ ran: graph.length, skipped: 0 });
    // Six steps of service a in batches of at most 3; the lone step of b runs alone, as do the others.
    expect(calls.batches.flat().sort()).toEqual(copies('a', 6).map((c) => c.id).sort());
    expect(calls.batches.every((b) => b.length > 1 && b.length <= 3)).toBe(true);
    expect(calls.alone.sort()).toEqual(['copy-b-0', 'end', 'pre']);
    // Each batch saw all its steps running in the journal while it ran.
    for (const states of calls.statesInBatch) expect(states.every((s) => s === 'running')).toBe(true);
    const rows = await query<{ step_id: string; state: string; finished_at: Date; rows: string; detail: { batched?: string } }>(
      controlUrl,
      `SELECT step_id, state, finished_at, rows::text AS rows, detail FROM cloudphone_split.steps WHERE run_id = $1`,
      [summary.runId],
    );
    const byId = new Map(rows.map((r) => [r.step_id, r]));
    for (const batch of calls.batches) {
      // Done in one statement: one commit, one instant.
      expect(new Set(batch.map((id) => byId.get(id)!.finished_at.getTime())).size).toBe(1);
      batch.forEach((id, i) => expect(byId.get(id)).toMatchObject({ state: 'done', rows: String(i), detail: { batched: id } }));
    }
    expect(await journal.result('batches', calls.batches[0]![0]!)).toEqual({ rows: 0, bytes: 10, detail: { batched: calls.batches[0]![0]! } });
  });

  it('runs each step of a failed batch alone: the failing one fails the run, the others are done, and a rerun finishes', async () => {
    const graph = [{ id: 'pre', kind: 'preflight' as const }, ...copies('c', 3)];
    const plan = toyPlan('batch-fails', graph);
    const first = batchingHandlers({ batchFails: true, aloneFails: (s) => s.id === 'copy-c-1' });
    const err = await runPlan(options(plan, first.handlers, 1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepFailedError);
    expect((err as StepFailedError).stepId).toBe('copy-c-1');
    expect(first.calls.batches).toEqual([['copy-c-0', 'copy-c-1', 'copy-c-2']]);
    // Alone, in order; the one after the failure is not started: the run stops.
    expect(first.calls.alone).toEqual(['pre', 'copy-c-0', 'copy-c-1']);
    const status = await journal.status('batch-fails');
    expect(status.runs[0]!.steps.map((s) => [s.id, s.state])).toEqual([
      ['pre', 'done'],
      ['copy-c-0', 'done'],
      ['copy-c-1', 'failed'],
      ['copy-c-2', 'pending'],
    ]);
    const second = batchingHandlers();
    const summary = await runPlan(options(plan, second.handlers, 1));
    expect(summary).toMatchObject({ resumed: true, ran: 2, skipped: 2 });
    expect(second.calls.batches).toEqual([['copy-c-1', 'copy-c-2']]);
  });
});
