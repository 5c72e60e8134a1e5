import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pg15, query, servers } from '../harness/servers.js';
import { splitFixture, type SplitFixture, type SplitFixtureOptions } from './helpers/split-fixture.js';
import { sharedSampleTemplate } from './helpers/shared-sample.js';
import { SplitWatch } from './helpers/crash.js';
import { assertBuilt, runSpawned } from './helpers/cli.js';
import { splitSignature } from './helpers/catalog-signature.js';
import { compareWithSource } from './helpers/table-sums.js';
import { CASE_TIMEOUT_MS, CASES_AT_ONCE, dropAll, inProcess, killAtPause, limit, sourceSide, started, stepsOf, treeFiles, type Reference } from './helpers/crash-case.js';
import { replicationPrefix } from '../../src/online/index.js';
import type { Plan, StartReplicationStep, StartReverseReplicationStep, Step } from '../../src/plan/model.js';
import type { PauseMoment } from '../../src/engine/test-pause.js';
import { TRACK_SCHEMA } from '../../src/online/denormalize-tracking.js';

/**
 * kill -9 inside an online `cutover`, one kill per case, right after one of its steps did
 * its work and before the journal recorded it, or in the middle of catch_up
 * (src/engine/test-pause.ts: the run waits on a lock the test holds, which proves where
 * it is), then `cutover` again and a comparison with a cutover that was never interrupted: targets, config
 * files, source side, no replication left, `verify --checksums`. The cases and the two
 * uninterrupted cutovers work on splits of their own, a few at once; each split is dropped
 * (its replication with it) as soon as its case passed.
 */

const fixtures: SplitFixture[] = [];
const slot = limit(CASES_AT_ONCE);
/** The sample at scale 0.3, on the main server and on PostgreSQL 15, cloned by every split. */
const templates = new Map<string, string>();

/** The sample at scale 0.3 on `server`, loaded once (helpers/shared-sample.ts). */
async function onlineTemplate(server: string): Promise<string> {
  const name = await sharedSampleTemplate(server, 0.3);
  templates.set(server, name);
  return name;
}

/** An online split of the sample, applied: replication runs, cutover is next. */
async function applied(opts: SplitFixtureOptions = {}): Promise<{ fx: SplitFixture; plan: Plan }> {
  const template = templates.get(opts.source ?? servers().main)!;
  const fx = await splitFixture({ template, withConfig: true, ...opts, edit: (doc) => void (doc.mode = 'online') });
  fixtures.push(fx);
  // The append-only login log has no primary key: online mode needs a replica identity.
  await query(fx.sourceUrl, `ALTER TABLE user_login_history REPLICA IDENTITY FULL`);
  const plan = await inProcess(() => fx.plan());
  const r = await runSpawned(['apply', fx.planFile, '--yes', '--jobs', '2'], fx.env);
  expect(r.code, r.stderr).toBe(0);
  return { fx, plan };
}

async function expectCutOver(fx: SplitFixture, plan: Plan): Promise<void> {
  // Every replicated leaf table holds exactly the source's rows (on the source's columns).
  const leaves = new Map<string, string[]>();
  for (const s of plan.steps.filter((x): x is StartReplicationStep => x.kind === 'start_replication')) {
    leaves.set(s.target.database, (s.leaves ?? []).map((l) => l.table).sort());
  }
  for (const c of await compareWithSource(fx)) {
    expect(c.tables, `tables of ${c.database}`).toEqual(leaves.get(c.database) ?? []);
    expect(c.target, `rows and checksums of ${c.database}`).toEqual(c.source);
  }
  // Forward replication is gone; reverse replication (rollback's way back) runs, one per service database.
  const prefix = `${replicationPrefix(fx.name)}%`;
  const reverse = plan.steps
    .filter((s): s is StartReverseReplicationStep => s.kind === 'start_reverse_replication')
    .map((s) => s.slot)
    .sort();
  expect(reverse.length).toBeGreaterThan(0);
  // Slots on every server involved: the reverse ones live on the targets' servers; none is left of the forward ones.
  const slots: string[] = [];
  for (const server of new Set([fx.sourceServer, ...fx.services.map((s) => s.serverUrl)])) {
    const rows = await query<{ slot_name: string }>(server, `SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE $1 OR database = $2`, [prefix, fx.sourceDb]);
    slots.push(...rows.map((r) => r.slot_name));
  }
  expect(slots.sort()).toEqual(reverse);
  const subs = await query<{ subname: string }>(fx.sourceServer, `SELECT subname FROM pg_subscription WHERE subname LIKE $1 ORDER BY 1`, [prefix]);
  expect(subs.map((r) => r.subname)).toEqual(reverse);
  expect(await query(fx.sourceUrl, `SELECT pubname FROM pg_publication`)).toEqual([]);
  const verified = await inProcess(() => fx.cli('verify', '--checksums'));
  expect(verified.code, verified.stdout + verified.stderr).toBe(0);
}

/** The reverse replication role's name holds hashes of the split's and the database's names: one placeholder for it. */
function withoutReverseRoleHashes(signature: Record<string, string[]>): Record<string, string[]> {
  return JSON.parse(JSON.stringify(signature).replace(/cps_[0-9a-f]{8}_rev_(.*?)_[0-9a-f]{4}_r=/g, 'cps_<h>_rev_$1_<h>_r=')) as Record<string, string[]>;
}

async function state(fx: SplitFixture): Promise<Reference> {
  const [signature, files, source] = await Promise.all([
    splitSignature(fx.services.map((s) => ({ name: s.name, serverUrl: s.serverUrl, database: s.database })), fx.prefix),
    treeFiles(fx),
    sourceSide(fx),
  ]);
  return { signature: withoutReverseRoleHashes(signature), files, source };
}

/** An uninterrupted cutover of a fresh split: what every case must end as. */
async function uninterrupted(opts: SplitFixtureOptions = {}): Promise<Reference> {
  const { fx, plan } = await applied(opts);
  const cut = await runSpawned(['cutover', '-m', fx.manifestFile, '--yes'], fx.env);
  expect(cut.code, cut.stderr).toBe(0);
  await expectCutOver(fx, plan);
  const ref = await state(fx);
  expect(JSON.stringify(ref.source)).toContain('cloudphone_split_fence');
  await fx.cleanup();
  return ref;
}

const across: SplitFixtureOptions = {};
let reference: Promise<Reference>;
let reference15: Promise<Reference>;

beforeAll(async () => {
  assertBuilt();
  Object.assign(across, { source: pg15(), targets: servers().main });
  await Promise.all([onlineTemplate(servers().main), onlineTemplate(pg15())]);
  reference = started(() => slot(() => uninterrupted()));
  reference15 = started(() => slot(() => uninterrupted(across)));
});

afterAll(async () => {
  await Promise.all([reference, reference15].map((r) => r?.catch(() => undefined)));
  await dropAll(fixtures);
});

function killCutoverAfter(
  kind: Step['kind'],
  moment: PauseMoment = 'after',
  atKill?: (fx: SplitFixture) => Promise<void>,
  opts: SplitFixtureOptions = {},
  expected: () => Promise<Reference> = () => reference,
): () => Promise<void> {
  return () => slot(() => cutoverCase(kind, moment, atKill, opts, expected));
}

async function cutoverCase(
  kind: Step['kind'],
  moment: PauseMoment,
  atKill: ((fx: SplitFixture) => Promise<void>) | undefined,
  opts: SplitFixtureOptions,
  expected: () => Promise<Reference>,
): Promise<void> {
  const { fx, plan } = await applied(opts);
  const cutoverSteps = stepsOf(plan, kind).filter((s) => s.phase === 'cutover');
  expect(cutoverSteps.length, `${kind} steps of the cutover`).toBeGreaterThan(0);
  const watch = await SplitWatch.open(fx);
  try {
    const { stepId } = await killAtPause(fx, watch, moment, cutoverSteps.map((s) => s.id), { args: ['cutover', '-m', fx.manifestFile, '--yes'] });
    expect((await watch.steps()).get(stepId)?.state, 'the journal never heard the step end').toBe('running');
    await atKill?.(fx);
  } finally {
    await watch.close();
  }
  // apply has nothing to do, and says what does: the source stays fenced until cutover finishes.
  const apply = await runSpawned(['apply', '-m', fx.manifestFile, '--yes'], fx.env);
  expect(apply.code, apply.stderr + apply.stdout).toBe(0);
  expect(apply.stdout).toContain('apply has nothing left to do, but its cutover stopped before the end');
  // status says whether the source is fenced (read from it) and what ends it (it showed each service "replicating").
  const status = await runSpawned(['status', '-m', fx.manifestFile, '--no-color'], fx.env);
  expect(status.stdout).toContain(
    kind === 'fence_source' && moment === 'before'
      ? "a cutover started and did not finish: the source's moved tables are not fenced (the cutover stopped before its fence went up), so their writes still go to the source"
      : 'a cutover started and did not finish: the source\'s moved tables refuse writes (fenced) until `cloudphone-split cutover` runs again to the end',
  );
  const again = await runSpawned(['cutover', '-m', fx.manifestFile, '--yes'], fx.env);
  expect(again.code, again.stderr + again.stdout).toBe(0);
  await expectCutOver(fx, plan);
  expect(await state(fx)).toEqual(await expected());
  await fx.cleanup();
}

/** The tracking of denormalized columns is still in the targets (catch_up had not dropped it), and the columns were filled before the fence. */
async function midCatchUp(fx: SplitFixture): Promise<void> {
  const device = fx.service('device').url;
  expect(await query(device, `SELECT 1 FROM pg_namespace WHERE nspname = $1`, [TRACK_SCHEMA])).toHaveLength(1);
  const [filled] = await query<{ n: number }>(device, `SELECT count(user_name)::int AS n FROM devices`);
  expect(filled!.n).toBeGreaterThan(0);
}

/** The fence is not up on the source yet: no trigger of it. */
async function unfenced(fx: SplitFixture): Promise<void> {
  const [n] = await query<{ n: number }>(fx.sourceUrl, `SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = 'cloudphone_split_fence'`);
  expect(n!.n).toBe(0);
}

/** The fence is up on the source: its triggers exist. */
async function fenced(fx: SplitFixture): Promise<void> {
  const [n] = await query<{ n: number }>(fx.sourceUrl, `SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = 'cloudphone_split_fence'`);
  expect(n!.n).toBeGreaterThan(0);
}

describe('cutover killed with SIGKILL and run again ends as an uninterrupted cutover', { concurrent: true, timeout: CASE_TIMEOUT_MS }, () => {
  it('after the fence went up, before the journal recorded it', killCutoverAfter('fence_source', 'after', fenced));

  it('right before the fence went up: status says the source still takes writes', killCutoverAfter('fence_source', 'before', unfenced));

  it('in the middle of catch_up: the first denormalized column refilled, the others not yet', killCutoverAfter('catch_up', 'mid', midCatchUp));

  it('after sync_sequences set a target\'s sequences, before the journal recorded it', killCutoverAfter('sync_sequences'));

  it(
    'after repoint_config rewrote a service\'s config files, before the journal recorded it',
    killCutoverAfter('repoint_config', 'after', async (fx) => {
      const files = await treeFiles(fx);
      expect(Object.values(files).join('\n')).toMatch(/<p>cloudphone_(user|device|billing|app|auth|notification)/);
    }),
  );

  it('after catch_up, before the journal recorded it', killCutoverAfter('catch_up'));

  it('after stop_replication dropped the subscriptions, before the journal recorded it', killCutoverAfter('stop_replication'));
});

describe('from PostgreSQL 15 to 18: cutover killed with SIGKILL and run again ends as an uninterrupted one', { concurrent: true, timeout: CASE_TIMEOUT_MS }, () => {
  // One case across majors (the others run 18 → 18 above): mid catch_up, where the fence is up and the fills half done.
  it('in the middle of catch_up', killCutoverAfter('catch_up', 'mid', midCatchUp, across, () => reference15));
});
