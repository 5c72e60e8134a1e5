import { afterAll, describe, expect, it } from 'vitest';
import { pg15, query, servers } from '../harness/servers.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';

/**
 * A partitioned log without primary key cannot be replicated: cutover copies its partitions
 * after the fence, and rollback's copy_back puts the new database's rows back into them.
 * The source's fence on such a table is two triggers per partition: the statement fence and
 * the clone of its root's row fence (which also fences partitions created later); copy_back
 * lifts both for its transaction and puts both back. Source on PostgreSQL 15, the new
 * databases on 18: verify proves the copy exact with the source's own checksum at cutover.
 */
const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

const ROWS = `SELECT user_id, at, note FROM user_pings ORDER BY at, user_id, note`;

describe('online: a partitioned table without primary key, rolled back', () => {
  it('is copied at cutover, fenced partition by partition in the source, and copied back by rollback with the new database\'s writes', async () => {
    const fx = await splitFixture({ source: pg15(), targets: servers().main, scale: 0.05, edit: (doc) => void (doc.mode = 'online') });
    fixtures.push(fx);
    // user_* belongs to user-service.
    await query(
      fx.sourceUrl,
      `CREATE TABLE user_pings (user_id bigint, at timestamptz NOT NULL, note text) PARTITION BY RANGE (at);
       CREATE TABLE user_pings_2026 PARTITION OF user_pings FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
       CREATE TABLE user_pings_rest PARTITION OF user_pings DEFAULT;
       INSERT INTO user_pings SELECT g, timestamptz '2026-06-01' + g * interval '1 week', 'n' || g FROM generate_series(1, 80) g`,
    );
    const plan = await fx.plan();
    expect(plan.errors).toEqual([]);
    expect(plan.steps.filter((s) => s.kind === 'copy_data' && s.phase === 'cutover').map((s) => s.table).sort()).toEqual(['public.user_login_history', 'public.user_pings_2026', 'public.user_pings_rest']);
    const applied = await fx.cli('apply', fx.planFile, '--yes');
    expect(applied.code, applied.stderr).toBe(0);
    const cut = await fx.cli('cutover', '--yes');
    expect(cut.code, cut.stderr + cut.stdout).toBe(0);

    // Each partition refuses a write straight into it, through both fences.
    const fences = await query<{ t: string; name: string }>(
      fx.sourceUrl,
      `SELECT tgrelid::regclass::text AS t, tgname AS name FROM pg_trigger WHERE tgname LIKE 'cloudphone\\_split\\_fence%' AND tgrelid::regclass::text LIKE 'user\\_pings%' ORDER BY 1, 2`,
    );
    expect(fences).toEqual([
      { t: 'user_pings', name: 'cloudphone_split_fence' },
      { t: 'user_pings', name: 'cloudphone_split_fence_rows' },
      { t: 'user_pings_2026', name: 'cloudphone_split_fence' },
      { t: 'user_pings_2026', name: 'cloudphone_split_fence_rows' },
      { t: 'user_pings_rest', name: 'cloudphone_split_fence' },
      { t: 'user_pings_rest', name: 'cloudphone_split_fence_rows' },
    ]);
    await expect(query(fx.sourceUrl, `INSERT INTO user_pings_2026 VALUES (1, '2026-07-01', 'x')`)).rejects.toMatchObject({ code: '25006' });

    const users = fx.service('user').url;
    await query(
      users,
      `INSERT INTO user_pings VALUES (900, '2026-02-02', 'new'), (901, '2030-01-01', 'new, default partition');
       DELETE FROM user_pings WHERE user_id IN (3, 4);
       UPDATE user_pings SET note = 'changed' WHERE user_id = 5`,
    );
    const want = await query(users, ROWS);
    expect(want).toHaveLength(80);
    // The service wrote to them: the sides differ for good, and what verify proves is that the copy was exact, with the
    // source's checksum at cutover (taken on 15, where the target's was taken on 18).
    const verified = await fx.cli('verify', '--checksums', '--json');
    expect(verified.code, verified.stdout).toBe(0);
    const checks = (JSON.parse(verified.stdout) as { checks: Array<{ kind: string; table?: string; ok: boolean; detail: string }> }).checks;
    for (const leaf of ['public.user_pings_2026', 'public.user_pings_rest']) {
      const c = checks.find((x) => x.kind === 'checksum' && x.table === leaf);
      expect(c?.detail, leaf).toContain("rows and checksum equal its own at cutover");
    }
    const rolled = await fx.cli('rollback', '--yes');
    expect(rolled.code, rolled.stderr + rolled.stdout).toBe(0);
    expect(await query(fx.sourceUrl, ROWS)).toEqual(want);
    expect(await query(fx.sourceUrl, `SELECT tgname FROM pg_trigger WHERE tgname LIKE 'cloudphone\\_split\\_fence%'`)).toEqual([]);
    await query(fx.sourceUrl, `INSERT INTO user_pings_2026 VALUES (1, '2026-07-01', 'writable again')`);
    // Applied again: the databases the rollback kept are named as such, with what to do.
    const again = await fx.cli('apply', fx.planFile, '--yes');
    expect(again.code, again.stderr).toBe(3);
    expect(again.stderr).toContain(`database ${fx.service('user').database} already exists on server target and is not empty: a rollback kept it after an online cutover`);
    expect(again.stderr).toContain(`once that database is dropped`);
  }, 300_000);
});
