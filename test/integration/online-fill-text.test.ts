import { afterAll, describe, expect, it } from 'vitest';
import { query } from '../harness/servers.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';

/**
 * Before its fence, `cutover` fills each denormalized column again from the source, through
 * a text COPY of the referenced values into the new database. Two databases may print the
 * same timestamp differently (`DateStyle`): both ends of that COPY run the same settings.
 */
const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

describe('online: the fill of a denormalized column before the fence', () => {
  it('carries a timestamp unchanged when the source prints it day first and the new database reads month first', async () => {
    const fx = await splitFixture({
      scale: 0.05,
      edit: (doc) => {
        doc.mode = 'online';
        const services = doc.services as Record<string, { denormalize?: unknown[] }>;
        (services['device-service']!.denormalize ??= []).push({ table: 'devices', column: 'user_since', from: 'users.created_at', on: 'user_id' });
      },
    });
    fixtures.push(fx);
    // Days up to 12 read month first are other dates; later ones are no date at all.
    await query(fx.sourceUrl, `UPDATE users SET created_at = timestamptz '2026-01-02 03:04:05.678+00' + id * interval '1 day'`);
    const settings = [`DateStyle = 'SQL, DMY'`, `IntervalStyle = 'sql_standard'`, 'extra_float_digits = 0'];
    for (const set of settings) await query(fx.sourceServer, `ALTER DATABASE "${fx.sourceDb}" SET ${set}`);
    await fx.plan();
    const applied = await fx.cli('apply', fx.planFile, '--yes');
    expect(applied.code, applied.stderr).toBe(0);
    // create_database gave the new database the source's settings; a target server configured otherwise keeps its own.
    const device = fx.service('device');
    for (const set of settings) await query(device.serverUrl, `ALTER DATABASE "${device.database}" RESET ${set.split(' =')[0]}`);
    // Written after apply: the fill before the fence carries it.
    await query(fx.sourceUrl, `UPDATE users SET created_at = created_at + interval '1 hour' WHERE id % 2 = 0`);
    const cut = await fx.cli('cutover', '--yes');
    expect(cut.code, cut.stderr + cut.stdout).toBe(0);
    const want = await query<{ id: string; t: string }>(
      fx.sourceUrl,
      `SELECT d.id::text AS id, extract(epoch FROM u.created_at)::text AS t FROM devices d JOIN users u ON u.id = d.user_id ORDER BY d.id`,
    );
    expect(want.length).toBeGreaterThan(5);
    const got = await query<{ id: string; t: string }>(device.url, `SELECT id::text AS id, extract(epoch FROM user_since)::text AS t FROM devices WHERE user_id IS NOT NULL ORDER BY devices.id`);
    expect(got).toEqual(want);
    const v = await fx.cli('verify', '--checksums');
    expect(v.code, v.stdout).toBe(0);
  }, 300_000);
});
