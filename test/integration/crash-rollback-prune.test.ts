import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import type { SplitFixture } from './helpers/split-fixture.js';
import { sharedSampleTemplate } from './helpers/shared-sample.js';
import { applyAndKill, holdLock, SplitWatch } from './helpers/crash.js';
import { assertBuilt, runSpawned } from './helpers/cli.js';
import { catalogSignature } from './helpers/catalog-signature.js';
import { CASE_TIMEOUT_MS, CASES_AT_ONCE, KILL_WAIT_MS, PAUSE_POLL_MS, dropAll, inProcess, limit, newSplit, sourceSide, started, treeFiles } from './helpers/crash-case.js';
import { qname } from '../../src/pg/quote.js';
import { parseKey } from '../../src/catalog/model.js';

/**
 * kill -9 inside `rollback` and inside `retention prune`, one kill per case at a moment
 * the test proves (a session of the tool waits on a lock the test holds), then the same
 * command again, and a comparison with a run of it that was never interrupted. The cases
 * and the uninterrupted runs work on splits of their own, at once.
 */

let template: string;
const fixtures: SplitFixture[] = [];
const slot = limit(CASES_AT_ONCE);
const DAY = 86_400_000;
const later = () => new Date(Date.now() + 8 * DAY).toISOString();

/** What a rollback or prune leaves, with the split's names and instants normalised. */
async function after(fx: SplitFixture): Promise<unknown> {
  const databases = await query(fx.sourceServer, `SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname <> $2 ORDER BY 1`, [`${fx.prefix}%`, decodeURIComponent(fx.controlUrl.split('/').pop()!)]);
  const roles = await query(fx.sourceServer, `SELECT rolname FROM pg_roles WHERE rolname LIKE $1 ORDER BY 1`, [`${fx.prefix}%`]);
  const sourceGone = databases.every((d) => (d as { datname: string }).datname !== fx.sourceDb);
  const runs = await query(fx.controlUrl, `SELECT state FROM cloudphone_split.runs WHERE split = $1 ORDER BY id`, [fx.name]);
  return JSON.parse(
    JSON.stringify({
      databases,
      roles,
      runs,
      files: await treeFiles(fx),
      source: sourceGone ? null : { side: await sourceSide(fx), catalog: await catalogSignature(fx.sourceServer, fx.sourceDb, fx.prefix) },
      retention: sourceGone ? await query(fx.controlUrl, `SELECT state, verified FROM cloudphone_split.retention WHERE split = $1`, [fx.name]) : null,
    }).replaceAll(fx.prefix, '<p>'),
  );
}

/**
 * A fresh split of the template, applied to its end (and verified: prune requires it).
 * For prune, `onlyMoved` first empties the tables the split leaves behind: prune refuses
 * to drop a source holding rows that exist nowhere else unless an archive is written, and
 * no pg_dump on this machine can archive an 18 server.
 */
async function applied(opts: { onlyMoved?: boolean } = {}): Promise<SplitFixture> {
  const { fx, plan } = await newSplit(template, fixtures);
  if (opts.onlyMoved) {
    const kept = new Set(plan.services.flatMap((s) => [...s.tables, ...s.copies].map((t) => t.name)));
    const all = await query<{ k: string }>(fx.sourceUrl, `SELECT schemaname || '.' || tablename AS k FROM pg_tables WHERE schemaname = 'public'`);
    const left = all.map((r) => r.k).filter((k) => !kept.has(k) && ![...kept].some((m) => k.startsWith(`${m}_`)));
    if (left.length > 0) await query(fx.sourceUrl, `TRUNCATE ${left.map((k) => qname(parseKey(k))).join(', ')}`);
  }
  const r = await runSpawned(['apply', fx.planFile, '--yes', '--jobs', '2'], fx.env);
  expect(r.code, r.stderr).toBe(0);
  const v = await inProcess(() => fx.cli('verify', '--checksums'));
  expect(v.code, v.stdout + v.stderr).toBe(0);
  return fx;
}

/**
 * Ends the sessions of the killed tool that wait for the test's lock: a backend does not
 * notice its client died while it waits, and would carry out its statement once the lock goes.
 */
async function endWaitingSessions(url: string): Promise<void> {
  await query(
    url,
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE datname = current_database() AND application_name LIKE 'cloudphone-split%' AND wait_event_type = 'Lock'`,
  );
}

/** What an uninterrupted rollback of an applied split leaves: nothing of the split. */
async function uninterruptedRollback(): Promise<unknown> {
  const a = await applied();
  const r = await runSpawned(['rollback', '--yes', '-m', a.manifestFile], a.env);
  expect(r.code, r.stderr).toBe(0);
  const state = await after(a);
  expect(JSON.stringify(state)).not.toContain('cloudphone_split_fence');
  await a.cleanup();
  return state;
}

/** What an uninterrupted prune of an applied split leaves: the backup dropped. */
async function uninterruptedPrune(): Promise<unknown> {
  const b = await applied({ onlyMoved: true });
  const p = await runSpawned(['retention', 'prune', '--yes', '--now', later(), '-m', b.manifestFile], b.env);
  expect(p.code, p.stderr).toBe(0);
  const state = await after(b);
  expect((state as { source: unknown }).source).toBeNull();
  await b.cleanup();
  return state;
}

let rolledBack: Promise<unknown>;
let pruned: Promise<unknown>;

beforeAll(async () => {
  assertBuilt();
  template = await sharedSampleTemplate(servers().main, 1);
  rolledBack = started(() => slot(uninterruptedRollback));
  pruned = started(() => slot(uninterruptedPrune));
});

afterAll(async () => {
  await Promise.all([rolledBack, pruned].map((r) => r?.catch(() => undefined)));
  await dropAll(fixtures);
});

describe('a command killed with SIGKILL and run again ends as if never interrupted', { concurrent: true, timeout: CASE_TIMEOUT_MS }, () => {
  it('rollback, inside the removal of the fence (its DROP TRIGGER waits for a lock the test holds), after the backup mark was lifted', () => slot(async () => {
    const fx = await applied();
    const plan = await fx.readPlan();
    const fenced = plan.steps.find((s) => s.kind === 'fence_source') as { tables: string[] };
    const watch = await SplitWatch.open(fx);
    try {
      const lock = await holdLock(fx.sourceUrl, `LOCK TABLE ${qname(parseKey(fenced.tables[0]!))} IN ACCESS SHARE MODE`);
      // The DROP TRIGGER waits for the lock (up to its lock_timeout of a minute): a calm poll does not miss it.
      const k = await applyAndKill(fx, watch, async () => watch.waitingOnLock(fx.sourceServer, fx.sourceDb), {
        pollMs: PAUSE_POLL_MS,
        timeoutMs: KILL_WAIT_MS,
        args: ['rollback', '--yes', '-m', fx.manifestFile],
        afterKill: async () => {
          await endWaitingSessions(fx.sourceUrl);
          await lock.release();
        },
      });
      expect(k.killed, JSON.stringify(k.result)).toBe(true);
      // Killed half way: the old database is writable again, but still fenced.
      const [db] = await query<{ setconfig: string[] | null }>(
        fx.sourceServer,
        `SELECT s.setconfig FROM pg_database d LEFT JOIN pg_db_role_setting s ON s.setdatabase = d.oid AND s.setrole = 0 WHERE d.datname = $1`,
        [fx.sourceDb],
      );
      expect(db?.setconfig ?? []).not.toContain('default_transaction_read_only=on');
      expect(await query(fx.sourceUrl, `SELECT 1 FROM pg_trigger WHERE tgname = 'cloudphone_split_fence'`)).not.toHaveLength(0);
    } finally {
      await watch.close();
    }
    // Partly undone: status says so and what to run; apply refuses (it said "nothing left to do", exit 0).
    const status = await runSpawned(['status', '-m', fx.manifestFile, '--no-color'], fx.env);
    expect(status.stdout).toMatch(/a rollback started at \S+ did not finish: the split is partly undone; run `cloudphone-split rollback` again to finish it/);
    const apply = await runSpawned(['apply', '--yes', '-m', fx.manifestFile], fx.env);
    expect(apply.code, apply.stdout).toBe(2);
    expect(apply.stderr).toContain('did not finish: the split is partly undone');
    const again = await runSpawned(['rollback', '--yes', '-m', fx.manifestFile], fx.env);
    expect(again.code, again.stderr).toBe(0);
    expect(await after(fx)).toEqual(await rolledBack);
    expect((await runSpawned(['status', '-m', fx.manifestFile, '--no-color'], fx.env)).stdout).not.toContain('did not finish');
    await fx.cleanup();
  }));

  it('retention prune, after DROP DATABASE and before the journal recorded it (its update waits for the retention row the test holds)', () => slot(async () => {
    const fx = await applied({ onlyMoved: true });
    const watch = await SplitWatch.open(fx);
    const now = later();
    try {
      const row = await holdLock(fx.controlUrl, `SELECT 1 FROM cloudphone_split.retention WHERE split = '${fx.name}' FOR UPDATE`);
      // The journal's update waits for the row until the kill: a calm poll does not miss it.
      const k = await applyAndKill(fx, watch, async () => watch.journalWriteWaiting(), {
        pollMs: PAUSE_POLL_MS,
        timeoutMs: KILL_WAIT_MS,
        args: ['retention', 'prune', '--yes', '--now', now, '-m', fx.manifestFile],
        afterKill: async () => {
          await endWaitingSessions(fx.controlUrl);
          await row.release();
        },
      });
      expect(k.killed, JSON.stringify(k.result)).toBe(true);
      expect(await query(fx.sourceServer, `SELECT 1 FROM pg_database WHERE datname = $1`, [fx.sourceDb]), 'the backup was dropped').toHaveLength(0);
      const [state] = await query<{ state: string }>(fx.controlUrl, `SELECT state FROM cloudphone_split.retention WHERE split = $1`, [fx.name]);
      expect(state!.state, 'the journal never heard of the drop').toBe('scheduled');
    } finally {
      await watch.close();
    }
    const again = await runSpawned(['retention', 'prune', '--yes', '--now', now, '-m', fx.manifestFile], fx.env);
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(await after(fx)).toEqual(await pruned);
    await fx.cleanup();
  }));
});
