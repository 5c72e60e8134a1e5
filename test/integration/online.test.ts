import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { pg15, query, servers, withDatabase, second } from '../harness/servers.js';
import type { Plan, StartReplicationStep } from '../../src/plan/model.js';
import { Pools } from '../../src/pg/pools.js';
import { dropReplication, replicationLag, replicationPrefix } from '../../src/online/index.js';
import { replicationRoleName } from '../../src/online/replication-role.js';
import { Journal } from '../../src/engine/journal.js';
import { dropTemplate, sampleTemplate, splitFixture, type SplitFixture, type SplitFixtureOptions } from './helpers/split-fixture.js';
import { compareWithSource, sequenceValues } from './helpers/table-sums.js';
import { expectSequencesPastSource } from './helpers/assert-split.js';
import { expectSampleDenormalized } from './helpers/denormalized-values.js';
import { eventually } from './helpers/reverse.js';

const fixtures: SplitFixture[] = [];
const writers: Writer[] = [];
/** The sample at scale 0.3, loaded once: the splits with their source on the main server clone it. */
let template = '';
beforeAll(async () => {
  template = await sampleTemplate(servers().main, 0.3);
});
afterAll(async () => {
  // A test that failed before the fence leaves its writer running.
  for (const w of writers) await w.stop();
  for (const fx of fixtures) await fx.cleanup();
  if (template) await dropTemplate(servers().main, template);
});

/**
 * A client of the source that keeps writing to moved tables (about 25 statements a
 * second: inserts, updates, deletes, a username change behind a denormalized column)
 * until the fence rejects a write. Every write that returned is acknowledged.
 */
class Writer {
  ops = 0;
  auditIds: string[] = [];
  fenced: string | null = null;
  errors: string[] = [];
  private stopped = false;
  private done: Promise<void> = Promise.resolve();

  constructor(private readonly url: string) {
    writers.push(this);
  }

  start(): void {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    const c = new pg.Client({ connectionString: this.url });
    c.on('error', () => undefined);
    await c.connect();
    const devices = (await c.query<{ id: string; user_id: string }>(`SELECT id::text, user_id::text FROM devices WHERE user_id IS NOT NULL ORDER BY id LIMIT 40`)).rows;
    const orders = (await c.query<{ id: string }>(`SELECT id::text FROM orders ORDER BY id LIMIT 40`)).rows;
    const events: string[] = [];
    try {
      for (let i = 0; !this.stopped; i++) {
        const d = devices[i % devices.length]!;
        const statements: Array<[string, unknown[]]> = [
          [`INSERT INTO audit_logs (user_id, action, entity, entity_id) VALUES ($1, 'online.write', 'device', $2) RETURNING id::text AS id`, [d.user_id, d.id]],
          [`UPDATE devices SET last_heartbeat_at = now(), cpu_cores = $2 WHERE id = $1`, [d.id, 1 + (i % 8)]],
          [`UPDATE users SET username = $2 WHERE id = $1`, [d.user_id, `writer_${i}_${d.user_id}`]],
          [`INSERT INTO device_events (device_id, event_type, payload, occurred_at) VALUES ($1, 'heartbeat', '{}', '2025-02-10T00:00:00Z'::timestamptz + $2 * interval '1 s') RETURNING id::text AS id`, [d.id, i]],
          [`DELETE FROM device_events WHERE id = $1`, [events.shift() ?? '-1']],
          [`UPDATE orders SET note = $2 WHERE id = $1`, [orders[i % orders.length]!.id, `note ${i}`]],
        ];
        const [sql, params] = statements[i % statements.length]!;
        try {
          const r = await c.query<{ id: string }>(sql, params);
          this.ops++;
          if (sql.startsWith('INSERT INTO audit_logs')) this.auditIds.push(r.rows[0]!.id);
          if (sql.startsWith('INSERT INTO device_events')) events.push(r.rows[0]!.id);
        } catch (err) {
          const message = (err as Error).message;
          if (message.includes('has moved to database')) {
            this.fenced = message;
            return;
          }
          this.errors.push(message);
        }
        await new Promise((r) => setTimeout(r, 40));
      }
    } finally {
      await c.end();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  /** Resolves once the writer has stopped by itself (at the fence). */
  finished(): Promise<void> {
    return this.done;
  }
}

function leavesByDatabase(plan: Plan): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const s of plan.steps.filter((x): x is StartReplicationStep => x.kind === 'start_replication')) {
    out.set(s.target.database, (s.leaves ?? []).map((l) => l.table).sort());
  }
  return out;
}

async function onlineFixture(opts: SplitFixtureOptions): Promise<SplitFixture> {
  const fx = await splitFixture({ scale: 0.3, withConfig: true, ...opts, edit: (doc) => void (doc.mode = 'online') });
  fixtures.push(fx);
  // The append-only login log has no primary key: online mode needs a replica identity.
  await query(fx.sourceUrl, `ALTER TABLE user_login_history REPLICA IDENTITY FULL`);
  return fx;
}

/** Nothing of the split's replication is left: no slot (table-sync ones included), subscription or publication. */
async function expectNoReplicationLeft(fx: SplitFixture): Promise<void> {
  const prefix = `${replicationPrefix(fx.name)}%`;
  const slots = await query(fx.sourceServer, `SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE $1 OR database = $2`, [prefix, fx.sourceDb]);
  expect(slots).toEqual([]);
  for (const server of new Set([servers().main, second()])) {
    expect(await query(server, `SELECT subname FROM pg_subscription WHERE subname LIKE $1`, [prefix])).toEqual([]);
  }
  expect(await query(fx.sourceUrl, `SELECT pubname FROM pg_publication`)).toEqual([]);
  // The subscriptions' own roles went with them.
  expect(await query(fx.sourceServer, `SELECT rolname FROM pg_roles WHERE rolname LIKE $1`, [prefix])).toEqual([]);
}

/** Every target table equals the source (counts and checksums on the source's columns), and holds the writer's rows. */
async function expectSameAsSource(fx: SplitFixture, plan: Plan, writer: Writer): Promise<void> {
  const leaves = leavesByDatabase(plan);
  for (const c of await compareWithSource(fx)) {
    expect(c.tables, `tables of ${c.database}`).toEqual(leaves.get(c.database) ?? []);
    expect(c.target, `rows and checksums of ${c.database}`).toEqual(c.source);
  }
  const [found] = await query<{ n: number }>(fx.service('user').url, `SELECT count(*)::int AS n FROM audit_logs WHERE id = ANY ($1::bigint[])`, [writer.auditIds]);
  expect(found!.n).toBe(writer.auditIds.length);
  // The denormalized columns carry the values of the fenced source (the username changed behind one of them included).
  await expectSampleDenormalized(fx, plan);
}

describe('online mode: split with logical replication while a client writes', () => {
  it('on one server: plan notes what cannot replicate, apply replicates, cutover fences, catches up and tears down', async () => {
    const fx = await splitFixture({ template, withConfig: true, edit: (doc) => void (doc.mode = 'online') });
    fixtures.push(fx);
    // Without a replica identity the log would be copied inside the cutover window; with one, it replicates.
    const copied = await fx.cli('plan', '-o', fx.planFile);
    expect(copied.code, copied.stderr).toBe(0);
    expect(copied.stdout + copied.stderr).toMatch(/public\.user_login_history has no primary key and no replica identity: logical replication cannot carry it, so cutover copies it after the fence/);
    await query(fx.sourceUrl, `ALTER TABLE user_login_history REPLICA IDENTITY FULL`);
    // A rule and extended statistics (Lemmy's *_actions tables have them): made once, after the initial copy.
    await query(fx.sourceUrl, `CREATE STATISTICS devices_user_status ON user_id, status FROM devices; CREATE RULE devices_deleted AS ON DELETE TO devices DO ALSO NOTIFY devices_changed`);
    // Row-level security forced on a table the service's role will own (Supabase's way): from PostgreSQL 16 a
    // subscription applies as the table's owner, whom the policies bind ("cannot replicate into relation with
    // row-level security enabled", every change refused); it runs as the tool's role instead.
    await query(fx.sourceUrl, `ALTER TABLE devices ENABLE ROW LEVEL SECURITY; ALTER TABLE devices FORCE ROW LEVEL SECURITY; CREATE POLICY devices_none ON devices USING (false)`);

    const plan = await fx.plan();
    expect(plan.mode).toBe('online');
    expect(plan.errors).toEqual([]);
    expect(plan.steps.some((s) => s.kind === 'copy_data')).toBe(false);
    expect(plan.steps.filter((s) => s.kind === 'start_replication')).toHaveLength(5);
    expect(plan.steps.filter((s) => s.phase === 'cutover').map((s) => s.kind)).toContain('catch_up');
    expect(plan.warnings.join('\n')).toMatch(/devices\.user_name[^\n]*catch_up/);

    const writer = new Writer(fx.sourceUrl);
    writer.start();
    const applied = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    expect(applied.stdout).toContain('cloudphone-split cutover');
    const made = `SELECT (SELECT string_agg(stxname, ',') FROM pg_statistic_ext) AS s, (SELECT string_agg(rulename, ',') FROM pg_rules WHERE tablename = 'devices') AS r`;
    expect(await query(fx.service('device').url, made)).toEqual([{ s: 'devices_user_status', r: 'devices_deleted' }]);
    const pools = new Pools({ source: fx.sourceUrl }, 2);
    try {
      const lag = await replicationLag(pools, plan);
      expect(lag.map((l) => [l.exists, l.syncing])).toEqual(lag.map(() => [true, 0]));
    } finally {
      await pools.end();
    }
    // A copy is read-only where it is copied, as offline (api-gateway copies users); the subscription still writes to it.
    const gateway = fx.service('api-gateway');
    await expect(query(gateway.url, `UPDATE users SET phone = 'written in the copy' WHERE id = 1`)).rejects.toThrow(
      `table public.users is a read-only copy: its rows belong to service user-service, in database ${fx.service('user').database}; write there`,
    );
    await query(fx.sourceUrl, `UPDATE users SET phone = 'streamed into the copy' WHERE id = 2`);
    await eventually('the source change in the copy', async () => (await query<{ phone: string }>(gateway.url, `SELECT phone FROM users WHERE id = 2`))[0]?.phone === 'streamed into the copy');
    // The client goes on writing once every table streams.
    const afterApply = writer.ops;
    await eventually('more writes after apply', async () => writer.ops > Math.max(20, afterApply + 5) || writer.fenced !== null);
    expect(writer.ops).toBeGreaterThan(20);

    // Without a terminal to ask on, cutover changes nothing unless --yes is given.
    const unasked = await fx.cli('cutover');
    expect(unasked.code, unasked.stderr).toBe(2);
    expect(unasked.stderr).toContain('add --yes');
    const [fence] = await query<{ n: number }>(fx.sourceUrl, `SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = 'cloudphone_split_fence'`);
    expect(fence!.n).toBe(0);

    const cut = await fx.cli('cutover', '--yes', '--json');
    expect(cut.code, cut.stderr).toBe(0);
    const result = JSON.parse(cut.stdout) as { writeDowntimeMs: number; cutoverMs: number; steps: Array<{ kind: string }> };
    expect(result.steps.map((s) => s.kind)).toContain('stop_replication');
    expect(result.writeDowntimeMs).toBeGreaterThan(0);
    // Measured inside the cutover (no timed bound here: the benchmark reports how long).
    expect(result.writeDowntimeMs).toBeLessThanOrEqual(result.cutoverMs);
    await writer.finished();
    expect(writer.errors).toEqual([]);
    expect(writer.fenced).toMatch(/audit_logs|devices|users|device_events|orders/);

    // Reverse replication runs after cutover (rollback's way back) until cutover --complete ends it.
    const completed = await fx.cli('cutover', '--complete', '--yes');
    expect(completed.code, completed.stderr).toBe(0);
    await expectNoReplicationLeft(fx);
    await expectSameAsSource(fx, plan, writer);
    await expectSequencesPastSource(fx);
    const verified = await fx.cli('verify', '--checksums');
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const again = await fx.cli('cutover', '--yes');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already cut over');
  });

  it('onto two servers: billing-service subscribes from the second server', async () => {
    const fx = await onlineFixture({ template, billing: second() });
    const plan = await fx.plan();
    const billing = plan.steps.find((s): s is StartReplicationStep => s.kind === 'start_replication' && s.target.server === 'billing-pg');
    expect(billing?.sameServer).toBe(false);
    // The plan shows the subscription's connection as the manifest writes it, never the expanded URL.
    const dry = await fx.cli('apply', fx.planFile, '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(
      `CONNECTION '\${CLOUDPHONE_CORE_URL} as user ${replicationRoleName(billing!.publication)} password ***' PUBLICATION "${billing!.publication}"`,
    );
    expect(dry.stdout).not.toContain(fx.sourceUrl);
    const writer = new Writer(fx.sourceUrl);
    writer.start();
    const applied = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    // Each subscription logs in as its own replication role, never as the admin.
    const admin = new URL(fx.sourceUrl);
    for (const server of [servers().main, second()]) {
      for (const sub of await query<{ subname: string; subconninfo: string }>(server, `SELECT subname, subconninfo FROM pg_subscription WHERE subname LIKE $1`, [`${replicationPrefix(fx.name)}%`])) {
        expect(sub.subconninfo).toContain(`postgres://${replicationRoleName(sub.subname)}:`);
        expect(sub.subconninfo).not.toContain(`${admin.username}:${admin.password}@`);
      }
    }
    // A paused subscription falls behind: the lag gate refuses to fence (exit 1) and changes nothing.
    const billingUrl = fx.service('billing').url;
    await query(billingUrl, `ALTER SUBSCRIPTION "${billing!.subscription}" DISABLE`);
    const slotActive = async () => (await query<{ active: boolean }>(fx.sourceServer, `SELECT active FROM pg_replication_slots WHERE slot_name = $1`, [billing!.slot]))[0]?.active;
    await eventually('the paused subscription leaves its slot', async () => (await slotActive()) === false);
    const early = await fx.cli('cutover', '--yes', '--max-lag', '1');
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/not cutting over[^]*behind/);
    expect(writer.fenced).toBeNull();
    // Let it through the gate while still paused: fenced, it cannot catch up, and cutover stops
    // after --catch-up-timeout with exit 3 (the source stays fenced, nothing is lost).
    const stuck = await fx.cli('cutover', '--yes', '--max-lag', '1TB', '--catch-up-timeout', '1');
    expect(stuck.code, stuck.stderr).toBe(3);
    expect(stuck.stderr).toMatch(/did not reach the fence position \S+ within 1 s: .*no subscription connected/);
    await writer.finished();
    expect(writer.fenced).not.toBeNull();
    await query(billingUrl, `ALTER SUBSCRIPTION "${billing!.subscription}" ENABLE`);
    await eventually('the subscription streams again', async () => (await slotActive()) === true);

    const cut = await fx.cli('cutover', '--yes');
    expect(cut.code, cut.stderr).toBe(0);
    expect(cut.stdout).toMatch(/Write downtime: \d+\.\d\d s/);
    // And what each service feels: from the fence to the first write its new database accepted.
    expect(cut.stdout).toMatch(/Client-visible downtime: \d+\.\d\d s at most[^\n]*\n(?: {2}.*\n)* {2}billing-service: \d+\.\d\d s/);
    await writer.finished();
    expect(writer.errors).toEqual([]);
    expect(writer.fenced).not.toBeNull();

    const completed = await fx.cli('cutover', '--complete', '--yes');
    expect(completed.code, completed.stderr).toBe(0);
    await expectNoReplicationLeft(fx);
    await expectSameAsSource(fx, plan, writer);
    const onSecond = await sequenceValues(withDatabase(second(), fx.service('billing').database));
    expect(Object.keys(onSecond).length).toBeGreaterThan(0);
    await expectSequencesPastSource(fx);
  });

  it('from PostgreSQL 15 to 18: changes stream across versions, and dropReplication (what rollback calls) removes every object', async () => {
    const fx = await onlineFixture({ source: pg15(), targets: servers().main });
    const plan = await fx.plan();
    const applied = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    // Nothing wrote meanwhile: once every table is ready, the targets equal the source.
    for (const c of await compareWithSource(fx)) expect(c.target, c.database).toEqual(c.source);
    const [row] = await query<{ id: string }>(fx.sourceUrl, `INSERT INTO nodes (hostname, region, capacity) VALUES ('pg15-stream', 'eu', 4) RETURNING id::text AS id`);
    const deviceUrl = fx.service('device').url;
    let seen = 0;
    for (let i = 0; i < 100 && seen === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      seen = (await query(deviceUrl, `SELECT 1 FROM nodes WHERE id = $1 AND hostname = 'pg15-stream'`, [row!.id])).length;
    }
    expect(seen).toBe(1);

    const journal = await Journal.open(fx.controlUrl);
    try {
      const kinds = (await journal.created(fx.name)).filter((o) => ['publication', 'subscription', 'slot'].includes(o.kind));
      expect(kinds).toHaveLength(3 * 5);
    } finally {
      await journal.close();
    }
    const pools = new Pools({ source: fx.sourceUrl, target: servers().main }, 2);
    try {
      const report = await dropReplication(pools, plan);
      expect(report.dropped.filter((d) => d.startsWith('subscription '))).toHaveLength(5);
      expect(report.dropped.filter((d) => d.startsWith('publication '))).toHaveLength(5);
      expect(report.dropped.filter((d) => d.startsWith('role '))).toHaveLength(5);
      expect((await dropReplication(pools, plan)).dropped).toEqual([]);
    } finally {
      await pools.end();
    }
    await expectNoReplicationLeft(fx);
  });
});
