import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pg15, query, second, servers } from '../harness/servers.js';
import { dropTemplate, sampleTemplate, splitFixture, type SplitFixture, type SplitFixtureOptions } from './helpers/split-fixture.js';
import { assertBuilt, runSpawned, spawnCli } from './helpers/cli.js';
import { expectSameData } from './helpers/assert-split.js';
import { holdPauseLocks, pausedSteps, stepsOf } from './helpers/crash-case.js';
import { holdLock, SplitWatch } from './helpers/crash.js';
import { TEST_PAUSE_ENV } from '../../src/engine/test-pause.js';
import { replicationPrefix } from '../../src/online/replication-sql.js';
import { STEP_KINDS, type Plan } from '../../src/plan/model.js';
import { restartableServer } from './helpers/restartable-server.js';

/**
 * `copy: server`: each target server pulls its tables from the source with logical
 * replication's table synchronisation. Proven as the relay is: plan → apply → row
 * counts and `verify --checksums`, 18 → 18 onto two target servers at once (one of them
 * the source's own), 15 → 18, the fence holding while the servers copy, and nothing of
 * the replication left afterwards.
 */

const fixtures: SplitFixture[] = [];
/**
 * The sample's scale: every table kind the server copy handles (partitions, generated
 * columns, denormalized and copied tables) is there at any scale; the rows only need to
 * fill each table.
 */
const SCALE = 0.2;
/** The sample on the main server, loaded once: the splits whose source is there clone it. */
let template = '';

async function serverCopySplit(opts: SplitFixtureOptions): Promise<{ fx: SplitFixture; plan: Plan }> {
  const onMain = (opts.source ?? servers().main) === servers().main;
  const fx = await splitFixture({
    scale: SCALE,
    ...(onMain ? { template } : {}),
    ...opts,
    edit: (doc) => {
      doc.copy = 'server';
      opts.edit?.(doc);
    },
  });
  fixtures.push(fx);
  return { fx, plan: await fx.plan() };
}

/** What the split's replication left on every server: publications and slots of the source, subscriptions of the targets, replication roles. */
async function leftovers(fx: SplitFixture): Promise<string[]> {
  const prefix = replicationPrefix(fx.name);
  const out: string[] = [];
  for (const r of await query<{ n: string }>(fx.sourceUrl, `SELECT pubname::text AS n FROM pg_publication WHERE pubname LIKE $1 || '%'`, [prefix])) out.push(`publication ${r.n}`);
  for (const url of new Set([fx.sourceServer, ...fx.services.map((s) => s.serverUrl)])) {
    for (const r of await query<{ n: string }>(url, `SELECT slot_name::text AS n FROM pg_replication_slots WHERE slot_name LIKE $1 || '%' OR database = $2`, [prefix, fx.sourceDb])) out.push(`slot ${r.n}`);
    for (const r of await query<{ n: string }>(url, `SELECT subname::text AS n FROM pg_subscription WHERE subname LIKE $1 || '%'`, [prefix])) out.push(`subscription ${r.n}`);
    for (const r of await query<{ n: string }>(url, `SELECT rolname::text AS n FROM pg_roles WHERE rolname LIKE $1 || '%'`, [prefix])) out.push(`role ${r.n}`);
  }
  return out;
}

/** Every start_server_copy of the run finished before any stop_server_copy started: all subscriptions copied at once. */
async function expectAllStartedBeforeAnyStop(fx: SplitFixture): Promise<void> {
  const rows = await query<{ step_id: string; kind: string; started_at: Date; finished_at: Date }>(
    fx.controlUrl,
    `SELECT s.step_id, s.kind, s.started_at, s.finished_at FROM cloudphone_split.steps s JOIN cloudphone_split.runs r ON r.id = s.run_id
      WHERE r.split = $1 AND s.kind IN ('start_server_copy', 'stop_server_copy') AND s.state = 'done'`,
    [fx.name],
  );
  const starts = rows.filter((r) => r.kind === 'start_server_copy');
  const stops = rows.filter((r) => r.kind === 'stop_server_copy');
  expect(starts.length).toBeGreaterThan(1);
  expect(stops.length).toBe(starts.length);
  const lastStart = Math.max(...starts.map((r) => r.finished_at.getTime()));
  const firstStop = Math.min(...stops.map((r) => r.started_at.getTime()));
  expect(lastStart).toBeLessThanOrEqual(firstStop);
}

async function applyAndVerify(fx: SplitFixture, plan: Plan): Promise<void> {
  const r = await runSpawned(['apply', fx.planFile, '--yes', '--jobs', '2'], fx.env);
  expect(r.code, `${r.stderr}\n${r.stdout}`).toBe(0);
  await expectSameData(fx, plan);
  const verified = await fx.cli('verify', '--checksums');
  expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  expect(await leftovers(fx)).toEqual([]);
}

beforeAll(async () => {
  assertBuilt();
  template = await sampleTemplate(servers().main, SCALE);
});

afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
  if (template) await dropTemplate(servers().main, template);
});

describe('copy: server', () => {
  it('plans a table synchronisation per service; tables it cannot carry stay relay copies, each named with the reason', async () => {
    const { fx, plan } = await serverCopySplit({ targets: second() });
    // The text plan says which services the target server copies, and which tables stay relay copies and why.
    const shown = await fx.cli('plan', '-o', fx.planFile);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout + shown.stderr).toMatch(/device-service .* copied by that server from the source \(copy: server\)/);
    expect(shown.stdout + shown.stderr).toMatch(/public\.devices is copied through this tool instead \(relay\)/);
    const starts = stepsOf(plan, 'start_server_copy');
    expect(starts.map((s) => s.service).sort()).toEqual(plan.services.filter((s) => s.copy === 'server').map((s) => s.name).sort());
    const pulled = new Set(starts.flatMap((s) => s.tables.map((t) => `${s.target.database}/${t.table}`)));
    const relayed = stepsOf(plan, 'copy_data').map((c) => `${c.target.database}/${c.table}`);
    // No table is copied both ways.
    expect(relayed.filter((t) => pulled.has(t))).toEqual([]);
    const db = (service: string) => plan.services.find((s) => s.name === service)!.database;
    // A copy of another service's table, a denormalized table, a generated column before 18 (not here: 18): relay.
    expect(relayed).toContain(`${db('api-gateway')}/public.users`);
    expect(relayed).toContain(`${db('device-service')}/public.devices`);
    expect(pulled).toContain(`${db('device-service')}/public.device_snapshots`);
    // A partitioned table: its partitions, each a table of the subscription.
    expect(pulled).toContain(`${db('device-service')}/public.device_events_2025_01`);
    expect(plan.warnings.join('\n')).toMatch(/api-gateway: copy: server: public\.users is copied through this tool instead \(relay\): a copy of another service's table, which may still be written while it is copied/);
    expect(plan.warnings.join('\n')).toMatch(/device-service: copy: server: public\.devices is copied through this tool instead \(relay\): its denormalized column user_name/);
    // Every step waiting for a replaced copy waits for the synchronisation instead; every fence comes first.
    const fences = stepsOf(plan, 'fence_source').map((f) => f.id);
    for (const s of starts) for (const f of fences) expect(s.dependsOn).toContain(f);
    expect(stepsOf(plan, 'preflight')[0]!.sql.join('\n')).toMatch(/copy: server, on the source server/);
    // The steps are in the order of their kinds, as every plan's.
    const order = plan.steps.map((s) => STEP_KINDS.indexOf(s.kind));
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it('18 → 18 onto two target servers at once (one of them the source\'s own): the rows, checksums, nothing left streaming', async () => {
    const { fx, plan } = await serverCopySplit({ targets: second(), billing: servers().main });
    const starts = stepsOf(plan, 'start_server_copy');
    expect(new Set(starts.map((s) => s.target.server))).toEqual(new Set(['target', 'billing-pg']));
    await applyAndVerify(fx, plan);
    await expectAllStartedBeforeAnyStop(fx);
  });

  it('15 → 18: generated columns go through the relay, the rest through the target server', async () => {
    const { fx, plan } = await serverCopySplit({ source: pg15(), targets: servers().main });
    expect(plan.source.serverVersion).toMatch(/^15/);
    expect(plan.warnings.join('\n')).toMatch(/public\.order_items is copied through this tool instead \(relay\): it has generated columns/);
    expect(stepsOf(plan, 'start_server_copy').length).toBeGreaterThan(0);
    await applyAndVerify(fx, plan);
  });

  it('preflight refuses a source without wal_level = logical or room for the slots, with the fix, before anything is made; with the fixes applied the split runs', async () => {
    const rs = await restartableServer();
    try {
      const [wal] = await query<{ w: string }>(rs.url, `SELECT current_setting('wal_level') AS w`);
      expect(wal!.w).toBe('replica');
      const { fx, plan } = await serverCopySplit({ source: rs.url, targets: second() });
      const refused = await runSpawned(['apply', fx.planFile, '--yes', '--jobs', '2'], fx.env);
      expect(refused.code, refused.stderr).toBe(3);
      expect(refused.stderr + refused.stdout).toMatch(/wal_level is replica; copy: server needs logical: ALTER SYSTEM SET wal_level = logical, then restart the server/);
      // Never half-started: no target database, no fence, no replication object.
      for (const svc of fx.services) {
        const [db] = await query<{ n: number }>(svc.serverUrl, `SELECT count(*)::int AS n FROM pg_database WHERE datname = $1`, [svc.database]);
        expect(db!.n, svc.database).toBe(0);
      }
      const [fence] = await query<{ n: number }>(fx.sourceUrl, `SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = 'cloudphone_split_fence'`);
      expect(fence!.n).toBe(0);
      expect(await leftovers(fx)).toEqual([]);
      await query(rs.url, `ALTER SYSTEM SET wal_level = logical`);
      await rs.stop();
      await rs.start();
      // The defaults (10 slots, 10 WAL senders) leave no room for 5 subscriptions and their table-sync workers.
      const again = await runSpawned(['apply', fx.planFile, '--yes', '--jobs', '2'], fx.env);
      expect(again.code, again.stderr).toBe(3);
      expect(again.stderr).toMatch(/max_replication_slots = 10 with 0 in use; 5 subscriptions and their table-sync workers need 15 free: ALTER SYSTEM SET max_replication_slots = 15/);
      expect(again.stderr).toMatch(/max_wal_senders = 10 with 0 in use; 15 more are needed: ALTER SYSTEM SET max_wal_senders = 15/);
      expect(await leftovers(fx)).toEqual([]);
      await query(rs.url, `ALTER SYSTEM SET max_replication_slots = 15`);
      await query(rs.url, `ALTER SYSTEM SET max_wal_senders = 15`);
      await rs.stop();
      await rs.start();
      await applyAndVerify(fx, plan);
    } finally {
      const fx = fixtures.at(-1);
      if (fx && fx.sourceServer.includes(new URL(rs.url).port)) {
        await fx.cleanup();
        fixtures.pop();
      }
      await rs.destroy();
    }
  });

  it('status shows the rows a target server has copied so far while its copy runs', async () => {
    const { fx, plan } = await serverCopySplit({ targets: second() });
    const device = fx.service('device');
    const start = stepsOf(plan, 'start_server_copy').find((s) => s.target.database === device.database)!;
    const wait = stepsOf(plan, 'wait_server_copy').find((s) => s.target.database === device.database)!;
    const locks = await holdPauseLocks(fx, [start.id]);
    const cli = spawnCli(['apply', fx.planFile, '--yes', '--jobs', '2'], { ...fx.env, [TEST_PAUSE_ENV]: `before:${start.id}` });
    let tableLock: { release(): Promise<void> } | null = null;
    try {
      for (let i = 0; i < 1200 && (await pausedSteps(fx, [start.id]).catch(() => [])).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      // The target's tables exist now. One of them is kept from its table synchronisation (an ENABLE ALWAYS trigger,
      // which the apply worker fires, waits for an advisory lock the test holds): the copy stays running.
      await query(device.url, `CREATE FUNCTION public.hold_sync() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN PERFORM pg_advisory_xact_lock_shared(4242); RETURN NEW; END$$`);
      await query(device.url, `CREATE TRIGGER hold_sync BEFORE INSERT ON public.device_snapshots FOR EACH ROW EXECUTE FUNCTION public.hold_sync()`);
      await query(device.url, `ALTER TABLE public.device_snapshots ENABLE ALWAYS TRIGGER hold_sync`);
      tableLock = await holdLock(device.url, `SELECT pg_advisory_xact_lock(4242)`);
      await locks.release();
      let rows = 0;
      for (let i = 0; i < 200 && rows === 0; i++) {
        const st = await fx.cli('status', '--json');
        const step = (JSON.parse(st.stdout) as { runs: Array<{ steps: Array<{ id: string; state: string; rows?: number }> }> }).runs.at(-1)?.steps.find((x) => x.id === wait.id);
        if (step?.state === 'running') rows = step.rows ?? 0;
        if (rows === 0) await new Promise((r) => setTimeout(r, 250));
      }
      // The partitions of device_events and nodes are copied; device_snapshots waits for the test's lock.
      expect(rows).toBeGreaterThan(0);
      const [ready] = await query<{ n: number }>(device.url, `SELECT count(*)::int AS n FROM pg_subscription_rel WHERE srsubstate <> 'r'`);
      expect(ready!.n).toBeGreaterThan(0);
    } finally {
      await tableLock?.release();
      await locks.release();
    }
    const end = await cli.done;
    expect(end.code, `${end.stderr}\n${end.stdout}`).toBe(0);
    await query(device.url, `DROP TRIGGER hold_sync ON public.device_snapshots`);
    await query(device.url, `DROP FUNCTION public.hold_sync()`);
    await expectSameData(fx, plan);
  });

  it('the fence holds while the target servers copy: a write to a moved table fails naming its new database', async () => {
    const { fx, plan } = await serverCopySplit({ targets: second() });
    const waits = stepsOf(plan, 'wait_server_copy').map((s) => s.id);
    const locks = await holdPauseLocks(fx, waits);
    const env = { ...fx.env, [TEST_PAUSE_ENV]: waits.map((id) => `before:${id}`).join(',') };
    const cli = spawnCli(['apply', fx.planFile, '--yes', '--jobs', '2'], env);
    try {
      const watch = await SplitWatch.open(fx).catch(async () => {
        for (let i = 0; i < 200; i++) {
          await new Promise((r) => setTimeout(r, 100));
          const w = await SplitWatch.open(fx).catch(() => null);
          if (w) return w;
        }
        throw new Error('the control database never appeared');
      });
      try {
        let paused: string[] = [];
        for (let i = 0; i < 1200 && paused.length === 0; i++) {
          paused = await pausedSteps(fx, waits);
          if (paused.length === 0) await new Promise((r) => setTimeout(r, 100));
        }
        expect(paused.length, cli.output().stderr).toBeGreaterThan(0);
      } finally {
        await watch.close();
      }
      // The subscriptions exist now: the target servers copy (or have copied) from the fenced tables.
      const subs = await query<{ n: number }>(fx.service('device').url, `SELECT count(*)::int AS n FROM pg_subscription WHERE subname LIKE $1 || '%' AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`, [replicationPrefix(fx.name)]);
      expect(subs[0]!.n).toBe(1);
      await expect(query(fx.sourceUrl, `UPDATE public.device_events SET id = id WHERE id IN (SELECT id FROM public.device_events LIMIT 1)`)).rejects.toThrow(
        new RegExp(`has moved to database ${fx.service('device').database}`),
      );
      await expect(query(fx.sourceUrl, `DELETE FROM public.nodes`)).rejects.toThrow(/has moved to database/);
    } finally {
      await locks.release();
    }
    const end = await cli.done;
    expect(end.code, `${end.stderr}\n${end.stdout}`).toBe(0);
    await expectSameData(fx, plan);
    expect(await leftovers(fx)).toEqual([]);
  });
});
