import { afterAll, describe, expect, it } from 'vitest';
import { query } from '../harness/servers.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';

/**
 * Logical replication carries rows, not schema changes. A column added to a moved table
 * of the source between `apply` and `cutover` would break the subscription at its first
 * write, or be missing after cutover: cutover refuses before fencing (exit 4), naming it.
 * So is a partition the source gained that the new database lacks: replication sends its
 * rows through the root, and the subscription would stop at the first.
 */
const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

describe('online mode: schema drift between apply and cutover', () => {
  it('a column added to a moved table makes cutover exit 4 naming it, with nothing fenced; undone, cutover goes through', async () => {
    // A source that stays in use (no retire): after cutover its moved tables carry the fence and the retention comment.
    const fx = await splitFixture({
      scale: 0.3,
      edit: (doc) => {
        doc.mode = 'online';
        (doc.source as Record<string, unknown>).retire = false;
      },
    });
    fixtures.push(fx);
    await query(fx.sourceUrl, `ALTER TABLE user_login_history REPLICA IDENTITY FULL`);
    await fx.plan();
    const applied = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr).toBe(0);

    await query(fx.sourceUrl, `ALTER TABLE devices ADD COLUMN color text`);
    const status = await fx.cli('status', '--json');
    expect((JSON.parse(status.stdout) as { schemaDrift?: string[] }).schemaDrift).toEqual(['public.devices: column color added']);
    const refused = await fx.cli('cutover', '--yes');
    expect(refused.code, refused.stderr).toBe(4);
    expect(refused.stderr).toContain('public.devices: column color added');
    expect(refused.stderr).toContain('nothing was fenced');
    const fence = await query(fx.sourceUrl, `SELECT 1 FROM pg_trigger WHERE tgname = 'cloudphone_split_fence'`);
    expect(fence).toEqual([]);
    // The services were not cut off: writes to the moved tables still work on the source.
    await query(fx.sourceUrl, `UPDATE users SET phone = phone WHERE id = (SELECT min(id) FROM users)`);

    await query(fx.sourceUrl, `ALTER TABLE devices DROP COLUMN color`);
    // A job made next year's partition in the source, and a row went in: replication sends it through device_events,
    // and the new database has no partition for it (its subscription would stop there, after the fence).
    await query(
      fx.sourceUrl,
      `CREATE TABLE device_events_2031_01 PARTITION OF device_events FOR VALUES FROM ('2031-01-01') TO ('2031-02-01');
       INSERT INTO device_events (device_id, event_type, occurred_at) SELECT min(id), 'late', '2031-01-15' FROM devices`,
    );
    const device = fx.service('device');
    const drift = `public.device_events_2031_01: new partition of public.device_events since the plan, which ${device.database} lacks`;
    const partitionStatus = await fx.cli('status', '--json');
    expect((JSON.parse(partitionStatus.stdout) as { schemaDrift?: string[] }).schemaDrift).toEqual([expect.stringContaining(drift)]);
    const refusedAgain = await fx.cli('cutover', '--yes');
    expect(refusedAgain.code, refusedAgain.stderr).toBe(4);
    expect(refusedAgain.stderr).toContain(drift);
    expect(refusedAgain.stderr).toContain('nothing was fenced');
    expect(await query(fx.sourceUrl, `SELECT 1 FROM pg_trigger WHERE tgname = 'cloudphone_split_fence'`)).toEqual([]);
    // Made in the new database as told, the row arrives there and cutover goes through.
    const ddl = /make it there too: (CREATE TABLE .+;)$/m.exec(refusedAgain.stderr)![1]!;
    // Owned like its parent there: from PostgreSQL 16 the subscription writes a partition as its owner.
    const [owner] = await query<{ o: string }>(device.url, `SELECT pg_get_userbyid(relowner) AS o FROM pg_class WHERE oid = 'device_events'::regclass`);
    expect(ddl).toBe(
      `CREATE TABLE "public"."device_events_2031_01" PARTITION OF "public"."device_events" FOR VALUES FROM ('2031-01-01 00:00:00+00') TO ('2031-02-01 00:00:00+00'); ` +
        `ALTER TABLE "public"."device_events_2031_01" OWNER TO "${owner!.o}";`,
    );
    await query(device.url, ddl);
    const cut = await fx.cli('cutover', '--yes');
    expect(cut.code, cut.stderr).toBe(0);
    const v = await fx.cli('verify', '--checksums');
    expect(v.code, v.stdout).toBe(0);
    expect(await query(device.url, `SELECT event_type FROM device_events_2031_01`)).toEqual([{ event_type: 'late' }]);
    // Cut over: the tool's own fence on the source is no drift, and cutover has nothing left to refuse.
    const after = await fx.cli('status');
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout + after.stderr).not.toContain('schema changed since the plan');
  });
});
