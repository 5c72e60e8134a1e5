import { afterAll, describe, expect, it } from 'vitest';
import { query } from '../harness/servers.js';
import type { Plan } from '../../src/plan/model.js';
import { PAUSE_LOCK_SPACE, TEST_PAUSE_ENV } from '../../src/engine/test-pause.js';
import { TRACK_SCHEMA } from '../../src/online/denormalize-tracking.js';
import { FENCE_TRIGGER } from '../../src/steps/fence-source.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { assertBuilt, runSpawned, spawnCli } from './helpers/cli.js';
import { holdPauseLocks } from './helpers/crash-case.js';
import { eventually } from './helpers/reverse.js';

/**
 * What a cutover leaves behind when it fails before its fence, and what the rollback
 * of a split that keeps its source in use (source.retire: false) puts back.
 */

const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

const SLOW = 300_000;

async function appliedOnline(retire: boolean, sourceSql?: string): Promise<{ fx: SplitFixture; plan: Plan }> {
  const fx = await splitFixture({
    scale: 0.2,
    withConfig: true,
    edit: (doc) => {
      doc.mode = 'online';
      (doc.source as Record<string, unknown>).retire = retire;
    },
  });
  fixtures.push(fx);
  await query(fx.sourceUrl, `ALTER TABLE user_login_history REPLICA IDENTITY FULL`);
  if (sourceSql) await query(fx.sourceUrl, sourceSql);
  const plan = await fx.plan();
  const applied = await runSpawned(['apply', fx.planFile, '--yes', '--jobs', '2'], fx.env);
  expect(applied.code, applied.stderr + applied.stdout).toBe(0);
  return { fx, plan };
}

/** The service databases that hold the tool's tracking schema now. */
async function tracked(fx: SplitFixture): Promise<string[]> {
  const out: string[] = [];
  for (const s of fx.services) {
    const r = await query(s.url, `SELECT 1 FROM pg_namespace WHERE nspname = $1`, [TRACK_SCHEMA]);
    if (r.length > 0) out.push(s.database);
  }
  return out;
}

describe('cutover cleanup', () => {
  it('a cutover that fails before its fence drops the tracking of denormalized columns it installed on the targets', { timeout: SLOW }, async () => {
    assertBuilt();
    const { fx, plan } = await appliedOnline(true);
    const fence = plan.steps.find((s) => s.kind === 'fence_source' && s.phase === 'cutover')!;
    const locks = await holdPauseLocks(fx, [fence.id]);
    const cut = spawnCli(['cutover', '-m', fx.manifestFile, '--yes'], { ...fx.env, [TEST_PAUSE_ENV]: `before:${fence.id}` });
    try {
      // Paused right before the fence: the tracking is in place on the targets by then.
      const waiting = async () =>
        query<{ pid: number }>(
          fx.sourceServer,
          `SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND NOT l.granted AND l.classid = $1::int::oid AND a.datname = $2 AND a.application_name LIKE 'cloudphone-split%'`,
          [PAUSE_LOCK_SPACE, fx.sourceDb],
        );
      await eventually('cutover waits before its fence', async () => (await waiting()).length > 0);
      expect((await tracked(fx)).length).toBeGreaterThan(0);
      // The fence step fails: its session ends under it.
      for (const { pid } of await waiting()) await query(fx.sourceServer, `SELECT pg_terminate_backend($1)`, [pid]);
      const r = await cut.done;
      expect(r.code, r.stderr + r.stdout).toBe(3);
    } finally {
      await locks.release();
      cut.child.kill('SIGKILL');
    }
    expect(await tracked(fx)).toEqual([]);
    // Nothing was fenced: the source takes writes as before.
    expect(await query(fx.sourceUrl, `SELECT tgname FROM pg_trigger WHERE tgname = $1`, [FENCE_TRIGGER])).toEqual([]);
    // The next run installs it again and cuts over, dropping it at catch_up.
    const again = await runSpawned(['cutover', '-m', fx.manifestFile, '--yes'], fx.env);
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(await tracked(fx)).toEqual([]);
  });

  it('the rollback after cutover of a split without source.retire puts back each moved table\'s comment', { timeout: SLOW }, async () => {
    assertBuilt();
    const { fx } = await appliedOnline(false, `COMMENT ON TABLE devices IS 'one row per cloud phone'; COMMENT ON TABLE users IS NULL`);
    const comments = async () =>
      Object.fromEntries(
        (await query<{ t: string; c: string | null }>(fx.sourceUrl, `SELECT relname::text AS t, obj_description(oid, 'pg_class') AS c FROM pg_class WHERE relname IN ('devices', 'users') AND relkind = 'r'`)).map((r) => [r.t, r.c]),
      );
    expect(await comments()).toEqual({ devices: 'one row per cloud phone', users: null });
    const cut = await runSpawned(['cutover', '-m', fx.manifestFile, '--yes'], fx.env);
    expect(cut.code, cut.stderr + cut.stdout).toBe(0);
    const marked = await comments();
    expect(marked.devices).toMatch(/^cloudphone-split: moved by split /);
    expect(marked.users).toMatch(/^cloudphone-split: moved by split /);
    const rolled = await runSpawned(['rollback', '-m', fx.manifestFile, '--yes'], fx.env);
    expect(rolled.code, rolled.stderr + rolled.stdout).toBe(0);
    expect(await comments()).toEqual({ devices: 'one row per cloud phone', users: null });
  });
});
