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
});
