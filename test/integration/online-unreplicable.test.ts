import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { query } from '../harness/servers.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { compareWithSource } from './helpers/table-sums.js';
import { holdPauseLocks, pausedSteps } from './helpers/crash-case.js';
import { eventually } from './helpers/reverse.js';
import { spawnCli } from './helpers/cli.js';
import { TEST_PAUSE_ENV } from '../../src/engine/test-pause.js';

/**
 * Session stores are often UNLOGGED, and append-only logs often have no primary key:
 * logical replication cannot carry either. Online mode copies them inside the cutover
 * window, after the fence, like an offline copy, and never changes the source to make
 * replication possible.
 */
const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

/**
 * Writes to the retired, fenced source as a superuser who bypasses both, the way copy_back
 * lifts the fence: for one transaction (read-write must be set before any statement).
 */
async function bypassingFence(url: string, writes: Array<[table: string, sql: string]>): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('SET default_transaction_read_only = off');
    for (const [table, sql] of writes) {
      await c.query('BEGIN');
      await c.query(`ALTER TABLE ${table} DISABLE TRIGGER cloudphone_split_fence`);
      await c.query(sql);
      await c.query(`ALTER TABLE ${table} ENABLE ALWAYS TRIGGER cloudphone_split_fence`);
      await c.query('COMMIT');
    }
  } finally {
    await c.end();
  }
}

const SOURCE_FACTS = `SELECT c.relname, c.relpersistence, c.relreplident FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND c.relname IN ('user_sessions', 'user_login_history') ORDER BY 1`;

describe('online mode: tables logical replication cannot carry', () => {
  it('an UNLOGGED session table and a log without primary key are copied after the fence; the source is not changed', async () => {
    const fx = await splitFixture({ scale: 0.3, edit: (doc) => void (doc.mode = 'online') });
    fixtures.push(fx);
    await query(
      fx.sourceUrl,
      // A lapse and a score: an interval and a float whose text forms depend on the session (see the rollback below).
      `CREATE UNLOGGED TABLE user_sessions (sid text NOT NULL, user_id bigint, data jsonb, lapse interval, score float8);
       INSERT INTO user_sessions SELECT 's' || g, g, jsonb_build_object('n', g), interval '-1 day -02:03:04' * g, g / 3.0::float8 FROM generate_series(1, 300) g`,
    );
    const before = await query(fx.sourceUrl, SOURCE_FACTS);
    expect(before).toEqual([
      { relname: 'user_login_history', relpersistence: 'p', relreplident: 'd' },
      { relname: 'user_sessions', relpersistence: 'u', relreplident: 'd' },
    ]);
    const plan = await fx.plan();
    expect(plan.errors).toEqual([]);
    const warnings = plan.warnings.join('\n');
    expect(warnings).toContain('public.user_sessions is UNLOGGED');
    expect(warnings).toContain('public.user_login_history has no primary key and no replica identity');
    expect(warnings).toMatch(/copying 2 tables \([\d.]+ [KMG]?i?B\) inside the cutover window adds their copy time to the write downtime/);
    const copies = plan.steps.filter((s) => s.kind === 'copy_data');
    expect(copies.map((s) => [s.id, s.phase])).toEqual(
      expect.arrayContaining([
        [expect.stringContaining('public.user_sessions'), 'cutover'],
        [expect.stringContaining('public.user_login_history'), 'cutover'],
      ]),
    );
    expect(copies).toHaveLength(2);

    const applied = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr).toBe(0);
    // Written between apply and cutover: replication does not carry these, the cutover copy does.
    await query(fx.sourceUrl, `INSERT INTO user_sessions VALUES ('late', 1, '{}'); DELETE FROM user_sessions WHERE sid = 's1'`);
    await query(fx.sourceUrl, `INSERT INTO user_login_history (user_id, logged_in_at, ip, user_agent, success) SELECT user_id, logged_in_at, ip, 'late', success FROM user_login_history LIMIT 3`);

    const cut = await fx.cli('cutover', '--yes');
    expect(cut.code, cut.stderr).toBe(0);
    const users = fx.service('user').url;
    expect(await query(users, `SELECT count(*)::int AS n, count(*) FILTER (WHERE sid = 'late')::int AS late, count(*) FILTER (WHERE sid = 's1')::int AS gone FROM user_sessions`)).toEqual([
      { n: 300, late: 1, gone: 0 },
    ]);
    const [lateLogins] = await query<{ n: number }>(users, `SELECT count(*)::int AS n FROM user_login_history WHERE user_agent = 'late'`);
    expect(lateLogins!.n).toBe(3);
    expect(await query(users, `SELECT relpersistence FROM pg_class WHERE relname = 'user_sessions'`)).toEqual([{ relpersistence: 'u' }]);
    const moved = ['public.user_sessions', 'public.user_login_history'];
    const v = await fx.cli('verify', '--checksums');
    expect(v.code, v.stdout).toBe(0);
    expect(await query(fx.sourceUrl, SOURCE_FACTS)).toEqual(before);

    // Rollback after cutover: reverse replication cannot carry them back either; copy_back does, after the fence.
    await query(users, `INSERT INTO user_sessions VALUES ('after', 2, '{}'); DELETE FROM user_sessions WHERE sid = 's2'; UPDATE user_sessions SET data = '{"x":1}' WHERE sid = 's3'`);
    await query(users, `INSERT INTO user_login_history (user_id, logged_in_at, ip, user_agent, success) SELECT user_id, logged_in_at, ip, 'after', success FROM user_login_history LIMIT 2`);
    // The service wrote to them: the source keeps the cutover copy, so the sides differ for good. verify proves
    // what it still can, that the copy was exact: the source (fenced, unchanged) against the target at cutover.
    for (const args of [['verify', '--checksums', '--json'], ['verify', '--json']]) {
      const after = await fx.cli(args[0]!, ...args.slice(1));
      expect(after.code, `${args.join(' ')}: ${after.stdout}`).toBe(0);
      const checks = (JSON.parse(after.stdout) as { checks: Array<{ kind: string; table?: string; ok: boolean; detail: string; source?: unknown }> }).checks;
      for (const t of moved) {
        const mine = checks.filter((c) => c.table === t && (c.kind === 'rowcount' || c.kind === 'checksum'));
        expect(mine.map((c) => c.kind).sort(), `${args.join(' ')} ${t}`).toEqual(args.includes('--checksums') ? ['checksum', 'rowcount'] : ['rowcount']);
        for (const c of mine) {
          expect(c.ok, c.detail).toBe(true);
          // Both tables' sums changed; the log gained rows, while the sessions kept their count (one added, one deleted).
          if (args.includes('--checksums') || t === 'public.user_login_history') expect(c.detail).toContain('written by the service since cutover');
          else expect(c.detail).toBe('300 rows on both sides');
          // A checksum check reports its sums, as every other one does.
          if (c.kind === 'checksum') expect(c.source).toEqual({ rows: expect.any(Number), sum: expect.any(String) });
        }
      }
    }
    // A source that no longer equals the copy (its fence bypassed) is a difference again, with and without checksums.
    await bypassingFence(fx.sourceUrl, [
      ['user_login_history', `INSERT INTO user_login_history (user_id, logged_in_at, ip, user_agent, success) SELECT user_id, logged_in_at, ip, 'bypass', success FROM user_login_history LIMIT 1`],
      ['user_sessions', `UPDATE user_sessions SET data = '{"y":2}' WHERE sid = 's4'`],
    ]);
    const differs = await fx.cli('verify', '--checksums', '--json');
    expect(differs.code, differs.stdout).toBe(1);
    const failed = (JSON.parse(differs.stdout) as { checks: Array<{ kind: string; table?: string; ok: boolean; detail: string }> }).checks.filter((c) => !c.ok);
    expect(failed.map((c) => `${c.kind} ${c.table}`).sort()).toEqual(['checksum public.user_login_history', 'checksum public.user_sessions', 'rowcount public.user_login_history']);
    // Each says it is the source that changed since the copy, not the target.
    for (const c of failed.filter((x) => x.kind === 'checksum')) expect(c.detail, c.table).toContain('no longer equals what cutover copied');
    const counted = await fx.cli('verify', '--json');
    expect(counted.code, counted.stdout).toBe(1);
    // The new database's sessions default to other text forms than the old one's: copy_back reads and writes both
    // under the same settings (a day-first date, a sign-shared interval and a 15-digit float would come back changed).
    await query(fx.service('user').serverUrl, `ALTER DATABASE "${fx.service('user').database}" SET DateStyle = 'SQL, DMY'`);
    await query(fx.service('user').serverUrl, `ALTER DATABASE "${fx.service('user').database}" SET IntervalStyle = 'sql_standard'`);
    await query(fx.service('user').serverUrl, `ALTER DATABASE "${fx.service('user').database}" SET extra_float_digits = 0`);
    // Rollback would replace those source rows with the target's: it refuses before changing anything, naming both.
    const refused = await fx.cli('rollback', '--yes');
    expect(refused.code, refused.stderr + refused.stdout).toBe(1);
    expect(refused.stderr).toMatch(/2 tables of \S+ copied at cutover changed since, behind the fence/);
    expect(refused.stderr).toMatch(/public\.user_login_history: \d+ rows at cutover, \d+ now/);
    expect(refused.stderr).toContain('public.user_sessions: same 300 rows, another checksum');
    expect(refused.stderr).toContain('nothing was changed');
    expect(refused.stderr).toContain('--discard-source-writes public.user_login_history,public.user_sessions');
    const reverseDone = async () =>
      (await query<{ n: number }>(fx.controlUrl, `SELECT count(*)::int AS n FROM cloudphone_split.steps WHERE state = 'done' AND step_id = ANY($1::text[])`, [
        plan.steps.filter((s) => s.phase === 'reverse').map((s) => s.id),
      ]))[0]!.n;
    expect(await reverseDone()).toBe(0);
    // The new database still takes the service's writes (not fenced), and the source kept what was written behind its fence.
    await query(users, `INSERT INTO user_sessions VALUES ('refused', 3, '{}')`);
    expect(await query(fx.sourceUrl, `SELECT count(*)::int AS n FROM user_login_history WHERE user_agent = 'bypass'`)).toEqual([{ n: 1 }]);
    const unknown = await fx.cli('rollback', '--yes', '--discard-source-writes', 'public.user_login_history,public.devices');
    expect(unknown.code, unknown.stderr).toBe(2);
    expect(unknown.stderr).toContain('public.devices, which rollback does not copy back');
    // The sessions' source put back as cutover copied it: equal again, by its checksum. The log's change is let go,
    // and while rollback waits at copy_back (the new database fenced by then) the sessions are written behind the fence
    // again: copy_back, comparing with the table's lock held, refuses and changes nothing.
    await bypassingFence(fx.sourceUrl, [['user_sessions', `UPDATE user_sessions SET data = jsonb_build_object('n', 4) WHERE sid = 's4'`]]);
    const copyBack = plan.steps.find((s) => s.kind === 'copy_back')!;
    const locks = await holdPauseLocks(fx, [copyBack.id]);
    const paused = spawnCli(['rollback', '-m', fx.manifestFile, '--yes', '--discard-source-writes', 'public.user_login_history'], { ...fx.env, [TEST_PAUSE_ENV]: `before:${copyBack.id}` });
    try {
      await eventually('rollback waits before copy_back', async () => (await pausedSteps(fx, [copyBack.id])).length > 0);
      await bypassingFence(fx.sourceUrl, [['user_sessions', `UPDATE user_sessions SET data = '{"z":3}' WHERE sid = 's5'`]]);
    } finally {
      await locks.release();
    }
    const raced = await paused.done;
    expect(raced.code, raced.stderr + raced.stdout).toBe(1);
    expect(raced.stderr).toContain('public.user_sessions: same 300 rows, another checksum');
    expect(raced.stderr).not.toContain('public.user_login_history:');
    expect(raced.stderr).toContain('the new databases are fenced (writes refused) until rollback finishes');
    expect(await query(fx.sourceUrl, `SELECT count(*)::int AS n FROM user_login_history WHERE user_agent = 'bypass'`)).toEqual([{ n: 1 }]);
    expect(await query(fx.sourceUrl, `SELECT data FROM user_sessions WHERE sid = 's5'`)).toEqual([{ data: { z: 3 } }]);
    // A DO INSTEAD rule on DELETE that a replica session still meets would keep the source's old rows beside the
    // copied ones: refused before anything changes, naming it and the fix.
    await query(fx.sourceUrl, `BEGIN READ WRITE; CREATE RULE sessions_kept AS ON DELETE TO user_sessions DO INSTEAD NOTHING; ALTER TABLE user_sessions ENABLE ALWAYS RULE sessions_kept; COMMIT`);
    const ruled = await fx.cli('rollback', '--yes', '--discard-source-writes', 'public.user_login_history,public.user_sessions');
    expect(ruled.code, ruled.stderr + ruled.stdout).toBe(1);
    expect(ruled.stderr).toContain(
      'rule sessions_kept on public.user_sessions (DO INSTEAD on DELETE, enabled ALWAYS): the copy back empties each table with a DELETE, which such a rule rewrites even in its replica session, so the old rows would stay beside the new ones; nothing was changed',
    );
    expect(await query(fx.sourceUrl, `SELECT data FROM user_sessions WHERE sid = 's5'`)).toEqual([{ data: { z: 3 } }]);
    await query(fx.sourceUrl, `BEGIN READ WRITE; DROP RULE sessions_kept ON user_sessions; COMMIT`);
    // Told to let both go, rollback puts the target's rows back in the source; killed right after that copy_back,
    // before the source is unfenced.
    const unfence = plan.steps.find((s) => s.kind === 'unfence_source' && s.phase === 'reverse')!;
    const held = await holdPauseLocks(fx, [unfence.id]);
    const killed = spawnCli(['rollback', '-m', fx.manifestFile, '--yes', '--discard-source-writes', 'public.user_login_history,public.user_sessions'], {
      ...fx.env,
      [TEST_PAUSE_ENV]: `before:${unfence.id}`,
    });
    try {
      await eventually('rollback waits before unfence_source', async () => (await pausedSteps(fx, [unfence.id])).length > 0);
      killed.child.kill('SIGKILL');
      await killed.done;
    } finally {
      await held.release();
    }
    // The rerun does not take the rows copy_back put there for writes behind the fence: it finishes without being told again.
    const rolled = await fx.cli('rollback', '--yes');
    expect(rolled.code, rolled.stderr + rolled.stdout).toBe(0);
    const [back] = await query<{ detail: { compared: Record<string, string>; discarded: string[] } }>(fx.controlUrl, `SELECT detail FROM cloudphone_split.steps WHERE step_id = $1 AND state = 'done'`, [copyBack.id]);
    expect(back!.detail.compared).toEqual({ 'public.user_login_history': 'checksum', 'public.user_sessions': 'checksum' });
    expect(back!.detail.discarded.sort()).toEqual(['public.user_login_history', 'public.user_sessions']);
    const [cmp] = (await compareWithSource(fx)).filter((c) => c.database === fx.service('user').database);
    for (const t of moved) {
      expect(cmp!.target[t], t).toBeDefined();
      expect(cmp!.source[t], `${t} in the source`).toEqual(cmp!.target[t]);
    }
    expect(await query(fx.sourceUrl, `SELECT count(*)::int AS n FROM user_sessions WHERE sid IN ('after', 's2', 'refused')`)).toEqual([{ n: 2 }]);
    expect(await query(fx.sourceUrl, SOURCE_FACTS)).toEqual(before);
    // The source's fence is gone, and nothing of the copy's lifting of it remains.
    expect(await query(fx.sourceUrl, `SELECT tgname FROM pg_trigger WHERE tgname = 'cloudphone_split_fence'`)).toEqual([]);
  }, 300_000);
  it('a table without a replica identity but with a unique index over NOT NULL columns gets the ALTER TABLE that lets it replicate', async () => {
    const fx = await splitFixture({
      scale: 0.05,
      edit: (doc) => {
        doc.mode = 'online';
        (doc.services as Record<string, { tables: string[] }>)['user-service']!.tables.push('_TeamToUser');
      },
    });
    fixtures.push(fx);
    // A Prisma join table, as PostgreSQL itself stores it: the catalog reads its index with every identifier quoted.
    await query(fx.sourceUrl, `CREATE TABLE "_TeamToUser" ("A" int NOT NULL, "B" int NOT NULL); CREATE UNIQUE INDEX "_TeamToUser_AB_unique" ON "_TeamToUser" ("A", "B")`);
    const plan = await fx.plan();
    expect(plan.warnings.find((w) => w.includes('_TeamToUser has no primary key'))).toContain(
      'to replicate it instead, give it a replica identity in the source before apply: ALTER TABLE "public"."_TeamToUser" REPLICA IDENTITY USING INDEX "_TeamToUser_AB_unique" (unique, on NOT NULL columns)',
    );
    // The log has no such index: no hint there.
    expect(plan.warnings.find((w) => w.includes('user_login_history has no primary key'))).not.toContain('REPLICA IDENTITY USING INDEX');
  });
});
