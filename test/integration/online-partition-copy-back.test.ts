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
 * A partition made in a new database since cutover, holding rows the source has no
 * partition for, refuses the rollback until it is made in the source too.
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
       INSERT INTO user_pings SELECT g, timestamptz '2026-06-01' + g * interval '1 week', 'n' || g FROM generate_series(1, 80) g;
       CREATE TABLE user_visits (id bigint, at timestamptz NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
       CREATE TABLE user_visits_2026 PARTITION OF user_visits FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
       CREATE TABLE user_visits_rest PARTITION OF user_visits DEFAULT;
       INSERT INTO user_visits SELECT g, timestamptz '2026-02-01' + g * interval '1 day' FROM generate_series(1, 20) g`,
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
    expect(await query(users, ROWS)).toHaveLength(80);
    // The service wrote to them: the sides differ for good, and what verify proves is that the copy was exact, with the
    // source's checksum at cutover (taken on 15, where the target's was taken on 18).
    const verified = await fx.cli('verify', '--checksums', '--json');
    expect(verified.code, verified.stdout).toBe(0);
    const checks = (JSON.parse(verified.stdout) as { checks: Array<{ kind: string; table?: string; ok: boolean; detail: string }> }).checks;
    for (const leaf of ['public.user_pings_2026', 'public.user_pings_rest']) {
      const c = checks.find((x) => x.kind === 'checksum' && x.table === leaf);
      expect(c?.detail, leaf).toContain("rows and checksum equal its own at cutover");
    }
    // Each service's job made next year's partition in its new database, and rows went into it: one of the
    // copied-back table, one of a replicated one (device_events, no default partition). The source has neither
    // partition: rollback refuses before changing anything, naming both with the statement that makes each there.
    const device = fx.service('device').url;
    await query(users, `CREATE TABLE user_pings_2031 PARTITION OF user_pings FOR VALUES FROM ('2031-01-01') TO ('2032-01-01'); INSERT INTO user_pings VALUES (777, '2031-05-05', 'in a partition made after cutover')`);
    await query(
      device,
      `CREATE TABLE device_events_2031_01 PARTITION OF device_events FOR VALUES FROM ('2031-01-01') TO ('2031-02-01');
       INSERT INTO device_events (device_id, event_type, occurred_at) SELECT min(id), 'late', '2031-01-15' FROM devices`,
    );
    // The device database's reverse replication stops at that row: status says why, and what to do.
    const status = await fx.cli('status', '--json');
    expect(status.code, status.stderr).toBe(0);
    const reverse = (JSON.parse(status.stdout) as { reverseReplication: Array<{ service: string; stuckOn?: Array<{ partition: string; rows: number }> }> }).reverseReplication;
    expect(reverse.filter((r) => r.stuckOn).map((r) => [r.service, r.stuckOn!.map((p) => [p.partition, p.rows])])).toEqual([['device-service', [['public.device_events_2031_01', 1]]]]);
    const shown = await fx.cli('status');
    expect(shown.stdout).toContain(`stuck: public.device_events_2031_01 (a partition of public.device_events, 1 row) was made in ${fx.service('device').database} since cutover`);
    // A replicated table whose source has a DEFAULT partition: reverse replication routes the rows there, no refusal.
    await query(users, `CREATE TABLE user_visits_2031 PARTITION OF user_visits FOR VALUES FROM ('2031-01-01') TO ('2032-01-01'); INSERT INTO user_visits VALUES (99, '2031-03-03')`);
    const want2031 = await query(users, ROWS);
    const refused = await fx.cli('rollback', '--yes');
    expect(refused.code, refused.stderr + refused.stdout).toBe(1);
    expect(refused.stderr).toContain('2 partitions made in the new databases since cutover hold rows that');
    expect(refused.stderr).toContain(`${fx.service('user').database}: public.user_pings_2031 (a partition of public.user_pings, 1 row)`);
    expect(refused.stderr).toContain(`${fx.service('device').database}: public.device_events_2031_01 (a partition of public.device_events, 1 row)`);
    expect(refused.stderr).toContain('nothing was changed');
    // Each owned like its parent in the source (from PostgreSQL 16 a subscription writes a partition as its owner). The
    // owner here is the test servers' superuser, whose name is also their password: the output masks it, as any secret.
    const [owner] = await query<{ o: string }>(fx.sourceUrl, `SELECT pg_get_userbyid(relowner) AS o FROM pg_class WHERE oid = 'user_pings'::regclass`);
    const ddl = [...refused.stderr.matchAll(/CREATE TABLE [^;]+; ALTER TABLE [^;]+;/g)].map((m) => m[0].replace('"***"', `"${owner!.o}"`));
    expect(ddl).toEqual([
      `CREATE TABLE public.user_pings_2031 PARTITION OF user_pings FOR VALUES FROM ('2031-01-01 00:00:00+00') TO ('2032-01-01 00:00:00+00'); ALTER TABLE "public"."user_pings_2031" OWNER TO "${owner!.o}";`,
      `CREATE TABLE public.device_events_2031_01 PARTITION OF device_events FOR VALUES FROM ('2031-01-01 00:00:00+00') TO ('2031-02-01 00:00:00+00'); ALTER TABLE "public"."device_events_2031_01" OWNER TO "${owner!.o}";`,
    ]);
    // The new databases still take writes: nothing was fenced.
    await query(users, `INSERT INTO user_pings VALUES (778, '2026-03-03', 'after the refusal')`);
    const wantAll = await query(users, ROWS);
    expect(wantAll).toHaveLength(want2031.length + 1);
    // Made in the source as told (the fence lets DDL through; the row fence is cloned onto them), rollback carries every row.
    expect(refused.stderr).toContain('BEGIN READ WRITE; CREATE TABLE');
    for (const d of ddl) await query(fx.sourceUrl, `BEGIN READ WRITE; ${d} COMMIT`);
    const rolled = await fx.cli('rollback', '--yes');
    expect(rolled.code, rolled.stderr + rolled.stdout).toBe(0);
    expect(await query(fx.sourceUrl, ROWS)).toEqual(wantAll);
    expect(await query(fx.sourceUrl, `SELECT event_type FROM device_events_2031_01`)).toEqual([{ event_type: 'late' }]);
    expect(await query(fx.sourceUrl, `SELECT id::int AS id FROM ONLY user_visits_rest WHERE at >= '2031-01-01'`)).toEqual([{ id: 99 }]);
    const [back] = await query<{ detail: { made?: string[] } }>(fx.controlUrl, `SELECT detail FROM cloudphone_split.steps WHERE kind = 'copy_back' AND state = 'done' AND detail ? 'made'`);
    expect(back!.detail.made).toEqual(['public.user_pings_2031']);
    expect(await query(fx.sourceUrl, `SELECT tgname FROM pg_trigger WHERE tgname LIKE 'cloudphone\\_split\\_fence%'`)).toEqual([]);
    await query(fx.sourceUrl, `INSERT INTO user_pings_2026 VALUES (1, '2026-07-01', 'writable again')`);
    // The kept new database stays fenced, a partition a service's job makes there afterwards too (the row fence is cloned onto it).
    await query(users, `CREATE TABLE user_pings_2032 PARTITION OF user_pings FOR VALUES FROM ('2032-01-01') TO ('2033-01-01')`);
    await expect(query(users, `INSERT INTO user_pings_2032 VALUES (5, '2032-05-05', 'after the rollback')`)).rejects.toThrow(/has gone back to database/);
    await expect(query(users, `INSERT INTO user_pings VALUES (5, '2032-05-05', 'after the rollback')`)).rejects.toThrow(/has gone back to database/);
    // Applied again (the partitions made for the rollback dropped, so that the source matches the plan again): the
    // databases the rollback kept are named as such, with what to do.
    await query(fx.sourceUrl, `ALTER TABLE user_pings DETACH PARTITION user_pings_2031; DROP TABLE user_pings_2031`);
    await query(fx.sourceUrl, `ALTER TABLE device_events DETACH PARTITION device_events_2031_01; DROP TABLE device_events_2031_01`);
    const again = await fx.cli('apply', fx.planFile, '--yes');
    expect(again.code, again.stderr).toBe(3);
    expect(again.stderr).toContain(`database ${fx.service('user').database} already exists on server target and is not empty: a rollback kept it after an online cutover`);
    expect(again.stderr).toContain(`once that database is dropped`);
  }, 300_000);
});
