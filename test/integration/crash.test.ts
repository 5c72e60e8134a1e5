import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import type { Plan, Step } from '../../src/plan/model.js';
import { qname } from '../../src/pg/quote.js';
import { parseKey } from '../../src/catalog/model.js';
import { dropTemplate, sampleTemplate, splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { applyAndKill, holdLock, SplitWatch, type HeldRow, type KillOutcome } from './helpers/crash.js';
import { runSpawned, assertBuilt } from './helpers/cli.js';
import { splitSignature } from './helpers/catalog-signature.js';
import { expectSameData } from './helpers/assert-split.js';

/**
 * kill -9 at eleven moments of an apply (SPEC §3: "a run killed at any instant and started
 * again ends in the same verified state as a run that was never interrupted"). The
 * sample at scale 5 makes the largest copy last long enough to be killed in the middle.
 * Moments inside short steps are made certain by holding a lock the step needs.
 */

const SCALE = 5;
let template: string;
const fixtures: SplitFixture[] = [];
let reference: { signature: Record<string, string[]>; files: Record<string, string> };

/** Every file of the services tree (not the manifest or plans), with the split's prefix normalised. */
async function treeFiles(fx: SplitFixture): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const file = join(dir, e.name);
      const rel = relative(fx.dir, file);
      if (rel === 'split.yaml' || rel === 'plans') continue;
      if (e.isDirectory()) await walk(file);
      else out[rel] = (await readFile(file, 'utf8')).replaceAll(fx.prefix, '<p>');
    }
  };
  await walk(fx.dir);
  return out;
}

async function newSplit(): Promise<{ fx: SplitFixture; plan: Plan }> {
  const fx = await splitFixture({ template, withConfig: true });
  fixtures.push(fx);
  const plan = await fx.plan();
  return { fx, plan };
}

async function expectLikeUninterrupted(fx: SplitFixture, plan: Plan): Promise<void> {
  await expectSameData(fx, plan);
  expect(await splitSignature(fx.services.map((s) => ({ name: s.name, serverUrl: s.serverUrl, database: s.database })), fx.prefix)).toEqual(reference.signature);
  expect(await treeFiles(fx)).toEqual(reference.files);
  const states = await query<{ state: string; n: number }>(
    fx.controlUrl,
    `SELECT s.state, count(*)::int AS n FROM cloudphone_split.steps s JOIN cloudphone_split.runs r ON r.id = s.run_id
      WHERE r.split = $1 AND r.state = 'succeeded' GROUP BY 1 ORDER BY 1`,
    [fx.name],
  );
  expect(states.filter((s) => s.state !== 'done' && s.state !== 'skipped')).toEqual([]);
  expect(states.reduce((a, s) => a + s.n, 0)).toBe(plan.steps.length);
}

async function resumeToEnd(fx: SplitFixture): Promise<void> {
  const r = await runSpawned(['apply', fx.planFile, '--yes', '--jobs', '2'], fx.env);
  expect(r.code, `${r.stderr}\n${r.stdout}`).toBe(0);
  expect(r.stdout).toMatch(/already done/);
}

function stepsOf(plan: Plan, kind: Step['kind']): Step[] {
  return plan.steps.filter((s) => s.kind === kind);
}

/** A table step is waiting for the test's lock and the journal says it runs: the kill lands inside it. */
function blockedInside(watch: SplitWatch, stepId: string, serverUrl: string, database: string) {
  return async (since: Date) => (await watch.running(stepId, since)) !== undefined && (await watch.waitingOnLock(serverUrl, database));
}

/**
 * Kills apply after a step matching `match` did its work and before the journal
 * recorded it done (see SplitWatch.holdStepRow); returns the step.
 */
async function killBeforeDone(fx: SplitFixture, watch: SplitWatch, match: (id: string) => boolean): Promise<{ stepId: string }> {
  let held: HeldRow | null = null;
  const k = await applyAndKill(
    fx,
    watch,
    async (since) => {
      if (held) return watch.journalWriteWaiting();
      const id = await watch.running(match, since);
      if (id) held = await watch.holdStepRow(id);
      return false;
    },
    { pollMs: 0, afterKill: async () => held?.release() },
  );
  expect(held, 'a matching step was caught running').not.toBeNull();
  expectKilledIn(k, held!.stepId);
  expect((await watch.steps()).get(held!.stepId)?.state, 'the journal never heard the step end').toBe('running');
  return { stepId: held!.stepId };
}

function expectKilledIn(k: KillOutcome, stepId: string | RegExp): void {
  expect(k.killed, `apply was killed; it ended on its own instead: ${JSON.stringify(k.result)}`).toBe(true);
  if (typeof stepId === 'string') expect(k.runningAtKill).toContain(stepId);
  else expect(k.runningAtKill.some((id) => stepId.test(id)), `running at the kill: ${k.runningAtKill.join(', ')}`).toBe(true);
}

beforeAll(async () => {
  assertBuilt();
  template = await sampleTemplate(servers().main, SCALE);
  const { fx } = await newSplit();
  const r = await runSpawned(['apply', fx.planFile, '--yes', '--jobs', '2'], fx.env);
  expect(r.code, r.stderr).toBe(0);
  reference = {
    signature: await splitSignature(fx.services.map((s) => ({ name: s.name, serverUrl: s.serverUrl, database: s.database })), fx.prefix),
    files: await treeFiles(fx),
  };
  // The reference is a real split: config repointed, data equal to the source.
  expect(Object.values(reference.files).join('\n')).toContain(`<p>cloudphone_billing`);
  const plan = await fx.readPlan();
  await expectSameData(fx, plan);
});

afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
  if (template) await dropTemplate(servers().main, template);
});

describe('apply killed with SIGKILL and run again ends as an uninterrupted run', () => {
  it('eight kills in one split: create_database, fence_source, mid-copy of the largest table, after copies, create_indexes, grant, repoint_config, schedule_retention', async () => {
    const { fx, plan } = await newSplit();
    await query(fx.sourceServer, `CREATE DATABASE "${fx.controlUrl.split('/').pop()}"`);
    const watch = await SplitWatch.open(fx);
    try {
      // 1. Inside one of the CREATE DATABASE steps.
      const k1 = await applyAndKill(fx, watch, async (since) => (await watch.running((id) => id.startsWith('create_database:'), since)) !== undefined, { pollMs: 0 });
      expectKilledIn(k1, /^create_database:/);

      // 2. Inside fence_source: a session of ours holds a lock the fence's trigger needs.
      const fence = stepsOf(plan, 'fence_source')[0]!;
      const sourceLock = await holdLock(fx.sourceUrl, `LOCK TABLE public.devices IN ROW EXCLUSIVE MODE`);
      const k2 = await applyAndKill(fx, watch, blockedInside(watch, fence.id, fx.sourceServer, fx.sourceDb), { afterKill: () => sourceLock.release() });
      expectKilledIn(k2, fence.id);

      // 3. In the middle of the COPY of the largest table (thousands of rows already in the target).
      const largest = stepsOf(plan, 'copy_data')[0]! as Extract<Step, { kind: 'copy_data' }>;
      const largestDb = fx.services.find((s) => s.database === largest.target.database)!;
      const k3 = await applyAndKill(
        fx,
        watch,
        async (since) => (await watch.running(largest.id, since)) !== undefined && (await watch.copyProgress(largestDb.url, largest.table!)) > 2000,
        { pollMs: 0 },
      );
      expectKilledIn(k3, largest.id);

      // 4. Right after the eighth copy of this run was recorded done.
      const k4 = await applyAndKill(fx, watch, async (since) => {
        const done = [...(await watch.steps())].filter(([id, s]) => id.startsWith('copy_data:') && s.state === 'done' && s.startedAt! >= since);
        return done.length >= 8;
      });
      expect(k4.killed).toBe(true);

      // 5. Inside create_indexes of a table whose copy is done: our ACCESS SHARE lock holds up its primary key.
      //    The kill waits until another table of the same service is fully indexed meanwhile (for kill 6).
      let steps = await watch.steps();
      const isDone = (id: string) => ['done', 'skipped'].includes(steps.get(id)?.state ?? '');
      // Not committed: a step in flight at kill 4 may have committed already (its marker makes the rerun skip it).
      const committed = async (s: Extract<Step, { kind: 'create_indexes' }>) => {
        const db = fx.services.find((x) => x.database === s.target.database)!;
        const r = await query(db.url, `SELECT to_regclass('cloudphone_split.done') IS NOT NULL AND EXISTS (SELECT 1 FROM cloudphone_split.done WHERE step_id = $1) AS m`, [s.id]).catch(() => [{ m: false }]);
        return r[0]?.m === true;
      };
      let index: Extract<Step, { kind: 'create_indexes' }> | undefined;
      for (const s of stepsOf(plan, 'create_indexes') as Array<Extract<Step, { kind: 'create_indexes' }>>) {
        if (s.table && s.sql.some((q) => q.startsWith('ALTER TABLE')) && !isDone(s.id) && s.dependsOn.every(isDone) && !(await committed(s))) {
          index = s;
          break;
        }
      }
      expect(index, 'a table copied but not yet indexed').toBeDefined();
      /** A table of the service, other than `index`'s, all of whose index steps (per-index builds, then keys) are done. */
      const indexedTable = (): string | undefined => {
        const own = stepsOf(plan, 'create_indexes').filter((s) => s.service === index!.service && s.table && s.table !== index!.table);
        return own.map((s) => s.table!).find((t) => own.every((s) => s.table !== t || isDone(s.id)));
      };
      const indexDb = fx.services.find((s) => s.database === index!.target.database)!;
      const indexLock = await holdLock(indexDb.url, `LOCK TABLE ${qname(parseKey(index!.table!))} IN ACCESS SHARE MODE`);
      const insideIndex = blockedInside(watch, index!.id, indexDb.serverUrl, indexDb.database);
      const k5 = await applyAndKill(
        fx,
        watch,
        async (since) => {
          if (!(await insideIndex(since))) return false;
          steps = await watch.steps();
          return indexedTable() !== undefined;
        },
        { afterKill: () => indexLock.release() },
      );
      expectKilledIn(k5, index!.id);

      // 6. Inside grant of that service: ALTER TABLE ... OWNER waits for our lock on its other, indexed table.
      steps = await watch.steps();
      const grant = stepsOf(plan, 'grant').find((g) => g.service === index!.service) as Extract<Step, { kind: 'grant' }>;
      expect(isDone(grant.id)).toBe(false);
      const lockTable = indexedTable()!;
      const grantLock = await holdLock(indexDb.url, `LOCK TABLE ${qname(parseKey(lockTable))} IN ACCESS SHARE MODE`);
      const k6 = await applyAndKill(fx, watch, blockedInside(watch, grant.id, indexDb.serverUrl, indexDb.database), { afterKill: () => grantLock.release() });
      expectKilledIn(k6, grant.id);

      // 7. After a service's config files were rewritten, before the journal recorded it.
      const k7 = await killBeforeDone(fx, watch, (id) => id.startsWith('repoint_config:'));
      expect(k7.stepId).toMatch(/^repoint_config:/);

      // 8. After the source was made read-only and marked for retention, before the journal recorded it:
      //    the rerun must run the step again on a database that is now read-only by default.
      const k8 = await killBeforeDone(fx, watch, (id) => id.startsWith('schedule_retention:'));
      const [readOnly] = await query<{ setconfig: string[] }>(
        fx.sourceServer,
        `SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1`,
        [fx.sourceDb],
      );
      expect(readOnly?.setconfig, k8.stepId).toContain('default_transaction_read_only=on');

      await resumeToEnd(fx);
      await expectLikeUninterrupted(fx, plan);
    } finally {
      await watch.close();
    }
  });

  it('three more kills in a split that copies its large tables in ranges: at start-up, and after a create_schema and a later range committed but before the journal recorded them', async () => {
    const fx = await splitFixture({ template, withConfig: true });
    fixtures.push(fx);
    // Tables over 1 MB are copied as key ranges, each range its own step (the first truncates, the others commit a marker).
    fx.env.CLOUDPHONE_SPLIT_TABLES_LARGER_THAN = '1MB';
    const plan = await fx.plan();
    const ranges = stepsOf(plan, 'copy_data').filter((s) => s.kind === 'copy_data' && s.range !== null) as Array<Extract<Step, { kind: 'copy_data' }>>;
    expect(ranges.length).toBeGreaterThan(4);
    await query(fx.sourceServer, `CREATE DATABASE "${fx.controlUrl.split('/').pop()}"`);
    const watch = await SplitWatch.open(fx);
    try {
      // 9. A fixed delay: the process is still starting (reading the plan, the source, the journal).
      const k9 = await applyAndKill(fx, watch, async (_since, elapsed) => elapsed >= 300);
      expect(k9.killed).toBe(true);

      // 10. A create_schema committed in its target (with its marker) but not yet recorded done in the journal:
      //    we hold the step's journal row, so the executor's "done" waits, and kill it there.
      const k10 = await killBeforeDone(fx, watch, (id) => id.startsWith('create_schema:'));
      const schemaDb = fx.services.find((s) => k10.stepId === `create_schema:${s.database}`)!;
      expect(await query(schemaDb.url, `SELECT step_id FROM cloudphone_split.done WHERE step_id = $1`, [k10.stepId])).toHaveLength(1);

      // 11. The same for a range after the first of a table: its rows and its marker are committed in the
      //     target, the journal does not know; the rerun must count them as done and not copy them again.
      const later = new Set(ranges.filter((r) => r.range!.index > 0).map((r) => r.id));
      const k11 = await killBeforeDone(fx, watch, (id) => later.has(id));
      expect(k11.stepId).toMatch(/#\d+\/\d+$/);

      await resumeToEnd(fx);
      await expectLikeUninterrupted(fx, plan);
    } finally {
      await watch.close();
    }
  });
});
