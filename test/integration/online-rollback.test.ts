import { afterAll, describe, expect, it } from 'vitest';
import { query, servers, second } from '../harness/servers.js';
import { replicationPrefix } from '../../src/online/index.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';

const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

describe('online mode: status and rollback while replication runs', () => {
  it('status shows the lag per service; rollback drops subscriptions, slots, publications, databases and roles', async () => {
    const fx = await splitFixture({ scale: 0.2, billing: second(), edit: (doc) => void (doc.mode = 'online') });
    fixtures.push(fx);
    await query(fx.sourceUrl, `ALTER TABLE user_login_history REPLICA IDENTITY FULL`);
    await fx.plan();
    const applied = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);

    const status = await fx.cli('status', '--json');
    expect(status.code, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout) as { replication: Array<{ service: string; exists: boolean; lagBytes: number | null }> };
    expect(report.replication.length).toBe(5);
    for (const r of report.replication) {
      expect(r.exists, r.service).toBe(true);
      expect(typeof r.lagBytes).toBe('number');
    }
    const human = await fx.cli('status', '--no-color');
    expect(human.stdout).toMatch(/replication \(online mode\)/);
    expect(human.stdout).toMatch(/streaming|inactive/);

    const prefix = `${replicationPrefix(fx.name)}%`;
    expect((await query(fx.sourceServer, `SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE $1`, [prefix])).length).toBe(5);

    const rolled = await fx.cli('rollback', '--yes');
    expect(rolled.code, rolled.stderr + rolled.stdout).toBe(0);
    expect(rolled.stdout).toMatch(/dropped replication/);
    expect(await query(fx.sourceServer, `SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE $1 OR database = $2`, [prefix, fx.sourceDb])).toEqual([]);
    for (const server of [servers().main, second()]) {
      expect(await query(server, `SELECT subname FROM pg_subscription WHERE subname LIKE $1`, [prefix])).toEqual([]);
      expect(await query(server, `SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname <> $2`, [`${fx.prefix}cloudphone_%`, fx.sourceDb])).toEqual([]);
    }
    expect(await query(fx.sourceUrl, `SELECT pubname FROM pg_publication`)).toEqual([]);
    expect(await query(servers().main, `SELECT rolname FROM pg_roles WHERE rolname LIKE $1`, [`${fx.prefix}%svc`])).toEqual([]);
  });

  it('a cutover stopped by its catch-up timeout (the source fenced): rollback drops the replication and every database, and lifts the fence', async () => {
    const fx = await splitFixture({ scale: 0.05, edit: (doc) => void (doc.mode = 'online') });
    fixtures.push(fx);
    await query(fx.sourceUrl, `ALTER TABLE user_login_history REPLICA IDENTITY FULL`);
    const plan = await fx.plan();
    const applied = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    // A paused subscription cannot catch up: cutover stops after --catch-up-timeout, the source fenced.
    const billing = plan.steps.find((s) => s.kind === 'start_replication' && s.target.service === 'billing-service') as { subscription: string; slot: string } | undefined;
    expect(billing).toBeDefined();
    await query(fx.service('billing').url, `ALTER SUBSCRIPTION "${billing!.subscription}" DISABLE`);
    const slotActive = async () => (await query<{ active: boolean }>(fx.sourceServer, `SELECT active FROM pg_replication_slots WHERE slot_name = $1`, [billing!.slot]))[0]?.active;
    await expect.poll(slotActive, { timeout: 30_000, interval: 200 }).toBe(false);
    const stuck = await fx.cli('cutover', '--yes', '--max-lag', '1TB', '--catch-up-timeout', '2');
    expect(stuck.code, stuck.stderr).toBe(3);
    const prefix = `${replicationPrefix(fx.name)}%`;
    expect(await query(fx.sourceUrl, `SELECT 1 FROM pg_trigger WHERE tgname = 'cloudphone_split_fence' LIMIT 1`)).toHaveLength(1);

    const rolled = await fx.cli('rollback', '--yes');
    expect(rolled.code, rolled.stderr + rolled.stdout).toBe(0);
    expect(await query(fx.sourceServer, `SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE $1 OR database = $2`, [prefix, fx.sourceDb])).toEqual([]);
    expect(await query(fx.sourceServer, `SELECT subname FROM pg_subscription WHERE subname LIKE $1`, [prefix])).toEqual([]);
    await query(fx.sourceUrl, `UPDATE users SET phone = phone WHERE id = (SELECT min(id) FROM users)`);
    expect(await query(fx.sourceServer, `SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname <> $2`, [`${fx.prefix}cloudphone_%`, fx.sourceDb])).toEqual([]);
    expect(await query(fx.sourceUrl, `SELECT pubname FROM pg_publication`)).toEqual([]);
    expect(await query(fx.sourceServer, `SELECT rolname FROM pg_roles WHERE rolname LIKE $1`, [prefix])).toEqual([]);
    // The source takes writes again.
    expect(await query(fx.sourceUrl, `SELECT 1 FROM pg_trigger WHERE tgname LIKE 'cloudphone\\_split\\_fence%'`)).toEqual([]);
  });
});
