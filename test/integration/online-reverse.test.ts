import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pg15, query, servers, second } from '../harness/servers.js';
import { dropTemplate, sampleTemplate, type SplitFixture } from './helpers/split-fixture.js';
import { assertBuilt } from './helpers/cli.js';
import { parseKey } from '../../src/catalog/model.js';
import { qname } from '../../src/pg/quote.js';
import { treeFiles } from './helpers/crash-case.js';
import {
  TargetWriter,
  cutOver,
  eventually,
  expectNoReplicationAnywhere,
  expectRolledBack,
  reverseStarts,
  sampleWriters,
  sourceSubscriptions,
  writeThroughRollback,
} from './helpers/reverse.js';

/**
 * Reverse replication (SPEC §3, §5): at cutover every service database publishes its
 * moved tables back and the source subscribes into its fenced tables; `rollback` after
 * cutover brings every write the services made to their new databases back to the
 * source; `cutover --complete` ends the way back for good.
 */

const fixtures: SplitFixture[] = [];
const writers: TargetWriter[] = [];
/**
 * A twentieth of the sample: what reverse replication carries back is every write of the
 * writers, whatever the size of what was copied before (each writer picks among the first
 * 20 devices, users and orders, which every scale has). Every table still replicates.
 */
const SCALE = 0.05;
/** The sample at that scale, once: the splits with their source on the main server clone it. */
let template = '';
beforeAll(async () => {
  template = await sampleTemplate(servers().main, SCALE);
});
afterAll(async () => {
  for (const w of writers) await w.stop();
  for (const fx of fixtures) await fx.cleanup();
  if (template) await dropTemplate(servers().main, template);
});

/** Several splits, servers and CLI runs per test: more than the default timeout on a loaded machine (no bound on speed is asserted). */
const SLOW = 300_000;

describe('online mode: reverse replication after cutover', () => {
  it('on one server (18 -> 18): the source subscribes into its fenced tables; rollback brings back every write of four writers', async () => {
    assertBuilt();
    const { fx, plan, original } = await cutOver(fixtures, { template });
    // The plan: reverse replication starts after forward replication stopped, before any config switch.
    const cut = plan.steps.filter((s) => s.phase === 'cutover').map((s) => s.kind);
    expect(cut.lastIndexOf('stop_replication')).toBeLessThan(cut.indexOf('start_reverse_replication'));
    expect(cut.lastIndexOf('start_reverse_replication')).toBeLessThan(cut.indexOf('repoint_config'));
    const starts = reverseStarts(plan);
    expect(starts.map((s) => s.target.service).sort()).toEqual(['api-gateway', 'billing-service', 'app-service', 'device-service', 'user-service'].sort());
    // Column lists only where the new database holds denormalized columns the source lacks.
    const devices = starts.find((s) => s.target.service === 'device-service')!.tables.find((t) => t.table === 'public.devices')!;
    expect(devices.columns).not.toContain('user_name');
    expect(devices.columns).toContain('id');
    expect(starts.find((s) => s.target.service === 'user-service')!.tables.every((t) => t.columns === null)).toBe(true);
    expect(await sourceSubscriptions(fx)).toEqual(starts.map((s) => s.subscription).sort());

    expect(Object.values(await treeFiles(fx)).join('\n')).toContain('<p>cloudphone_billing');

    // The fence still refuses a client of the source (past the backup's read-only default), replica mode included...
    await expect(query(fx.sourceUrl, `INSERT INTO nodes (hostname, region, capacity) VALUES ('client', 'eu', 1)`)).rejects.toThrow(/read-only transaction|has moved to database/);
    await expect(query(fx.sourceUrl, `BEGIN READ WRITE; INSERT INTO nodes (hostname, region, capacity) VALUES ('client', 'eu', 1); COMMIT`)).rejects.toThrow(/has moved to database/);
    await expect(query(fx.sourceUrl, `BEGIN READ WRITE; SET LOCAL session_replication_role = replica; TRUNCATE user_login_history; COMMIT`)).rejects.toThrow(/has moved to database/);
    // ...while the apply worker writes through it: an INSERT, and a TRUNCATE (which fires statement triggers in the apply worker).
    const [row] = await query<{ id: string }>(fx.service('device').url, `INSERT INTO nodes (hostname, region, capacity) VALUES ('reverse', 'eu', 2) RETURNING id::text AS id`);
    await eventually('the target\'s insert in the source', async () => (await query(fx.sourceUrl, `SELECT 1 FROM nodes WHERE id = $1 AND hostname = 'reverse'`, [row!.id])).length === 1);
    const [before] = await query<{ n: number }>(fx.sourceUrl, `SELECT count(*)::int AS n FROM user_login_history`);
    expect(before!.n).toBeGreaterThan(0);
    await query(fx.service('user').url, `TRUNCATE user_login_history`);
    await eventually('the target\'s TRUNCATE in the source', async () => (await query<{ n: number }>(fx.sourceUrl, `SELECT count(*)::int AS n FROM user_login_history`))[0]!.n === 0);

    // status shows the reverse replication's lag per subscription.
    const status = await fx.cli('status', '--json');
    expect(status.code, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout) as { reverseReplication?: Array<{ service: string; subscription: string; lagBytes: number | null }> };
    expect(report.reverseReplication?.map((r) => r.subscription).sort()).toEqual(starts.map((s) => s.subscription).sort());
    for (const r of report.reverseReplication ?? []) expect(typeof r.lagBytes, r.service).toBe('number');
    const human = await fx.cli('status', '--no-color');
    expect(human.stdout).toMatch(/reverse replication \(after cutover/);

    // A device pointed at a user that does not exist: allowed where the split dropped devices_user_id_fkey,
    // and replicated into the source without its foreign key's check; rollback names it.
    const [device] = await query<{ id: string }>(fx.service('device').url, `UPDATE devices SET user_id = 987654321 WHERE id = (SELECT min(id) FROM devices) RETURNING id::text AS id`);
    await eventually('the orphaned device in the source', async () => (await query(fx.sourceUrl, `SELECT 1 FROM devices WHERE id = $1 AND user_id = 987654321`, [device!.id])).length === 1);
    // A table of the source's own (not moved) referencing a user a service then deletes in its database.
    await query(fx.sourceUrl, `BEGIN READ WRITE; CREATE TABLE stay_notes (id int PRIMARY KEY, user_id bigint REFERENCES users (id)); COMMIT`);
    const [fresh] = await query<{ id: string }>(
      fx.service('user').url,
      `INSERT INTO users (tenant_id, username, email, password_hash) SELECT tenant_id, 'stay-note', 'stay-note@example.com', 'x' FROM users LIMIT 1 RETURNING id::text AS id`,
    );
    await eventually('the new user in the source', async () => (await query(fx.sourceUrl, `SELECT 1 FROM users WHERE id = $1`, [fresh!.id])).length === 1);
    await query(fx.sourceUrl, `BEGIN READ WRITE; INSERT INTO stay_notes VALUES (1, ${fresh!.id}); COMMIT`);
    await query(fx.service('user').url, `DELETE FROM users WHERE id = $1`, [fresh!.id]);
    await eventually('the delete in the source', async () => (await query(fx.sourceUrl, `SELECT 1 FROM users WHERE id = $1`, [fresh!.id])).length === 0);
    const ws = await writeThroughRollback(fx, writers, (output) => {
      expect(output).toMatch(/warning: public\.devices: 1 row references public\.users rows that do not exist \(changes made in the new databases after cutover came back here by replication, which fires neither the check nor the action of devices_user_id_fkey\)/);
      // A table that stays in the source, whose key to a moved table saw the delete of its row come back by replication.
      expect(output).toMatch(/warning: public\.stay_notes: 1 row references public\.users rows that do not exist .*stay_notes_user_id_fkey/);
      expect(output).toContain('SELECT * FROM "public"."devices" t WHERE t."user_id" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public.users r WHERE r."id" = t."user_id")');
    });
    await expectRolledBack(fx, plan, original, ws);
  }, SLOW);

  it('from PostgreSQL 15 to 18, billing on a second server: rollback through reverse replication loses nothing', async () => {
    const { fx, plan, original } = await cutOver(fixtures, { source: pg15(), targets: servers().main, billing: second(), scale: SCALE });
    expect((await sourceSubscriptions(fx)).length).toBe(5);
    const ws = await writeThroughRollback(fx, writers);
    await expectRolledBack(fx, plan, original, ws);
  }, SLOW);

  it('cutover --complete ends reverse replication for good on both servers; rollback then refuses', async () => {
    const { fx } = await cutOver(fixtures, { template, billing: second() });
    const [row] = await query<{ id: string }>(fx.service('billing').url, `UPDATE orders SET note = 'before complete' WHERE id = (SELECT min(id) FROM orders) RETURNING id::text AS id`);
    await eventually('the billing write in the source', async () => (await query(fx.sourceUrl, `SELECT 1 FROM orders WHERE id = $1 AND note = 'before complete'`, [row!.id])).length === 1);
    const unasked = await fx.cli('cutover', '--complete');
    expect(unasked.code).toBe(2);
    expect((await sourceSubscriptions(fx)).length).toBe(5);
    const done = await fx.cli('cutover', '--complete', '--yes');
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/reverse replication ended for good/);
    await expectNoReplicationAnywhere(fx);
    const again = await fx.cli('cutover', '--complete', '--yes');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already ended/);
    const refused = await fx.cli('rollback', '--yes');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/cutover --complete` ended the reverse replication/);
    // The source is still the fenced backup; the services' writes stay where they are.
    await expect(query(fx.sourceUrl, `BEGIN READ WRITE; UPDATE orders SET note = 'x' WHERE id = ${Number(row!.id)}; COMMIT`)).rejects.toThrow(/has moved to database/);
  }, SLOW);

  it('retention prune ends reverse replication first, then drops the expired backup it proves unused since', async () => {
    // Prune drops a retired source only when it holds nothing that exists nowhere else: the tables left behind are emptied first.
    const { fx } = await cutOver(fixtures, { template }, async (f, plan) => {
      const kept = new Set(plan.services.flatMap((s) => [...s.tables, ...s.copies].map((t) => t.name)));
      const all = await query<{ k: string }>(f.sourceUrl, `SELECT schemaname || '.' || tablename AS k FROM pg_tables WHERE schemaname = 'public'`);
      const left = all.map((r) => r.k).filter((k) => !kept.has(k) && ![...kept].some((m) => k.startsWith(`${m}_`)));
      if (left.length > 0) await query(f.sourceUrl, `TRUNCATE ${left.map((k) => qname(parseKey(k))).join(', ')}`);
    });
    const [row] = await query<{ id: string }>(fx.service('device').url, `INSERT INTO nodes (hostname, region, capacity) VALUES ('before-prune', 'eu', 3) RETURNING id::text AS id`);
    await eventually('the write in the source', async () => (await query(fx.sourceUrl, `SELECT 1 FROM nodes WHERE id = $1`, [row!.id])).length === 1);
    const verified = await fx.cli('verify', '--checksums');
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect((await sourceSubscriptions(fx)).length).toBe(5);
    const later = new Date(Date.now() + 400 * 86_400_000).toISOString();
    const pruned = await fx.cli('retention', 'prune', '--yes', '--json', '--now', later);
    expect(pruned.code, pruned.stdout + pruned.stderr).toBe(0);
    expect(pruned.stderr).toMatch(/reverse replication ended for good before pruning/);
    const report = JSON.parse(pruned.stdout) as { backups: Array<{ action: string }> };
    expect(report.backups.map((b) => b.action)).toEqual(['dropped']);
    await expectNoReplicationAnywhere(fx);
  }, SLOW);
});
