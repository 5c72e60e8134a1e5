import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import type { Plan, StartReplicationStep } from '../../src/plan/model.js';
import { replicationRoleName } from '../../src/online/replication-role.js';
import { dropTemplate, sampleTemplate, splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { assertBuilt } from './helpers/cli.js';
import { compareWithSource, tableSums, type TableSum } from './helpers/table-sums.js';
import { splitSignature } from './helpers/catalog-signature.js';
import { expectSequencesPastSource } from './helpers/assert-split.js';
import { expectSampleDenormalized } from './helpers/denormalized-values.js';
import { eventually } from './helpers/reverse.js';

/**
 * `apply --service` of an online split (SPEC §2, §3): each run creates the named
 * services' databases, copies their tables and starts their replication only; `status`
 * says which services replicate; `cutover` refuses while a service is not applied and,
 * once all are, switches them at once. Applied service by service with writers on the
 * source throughout, the split ends as one online apply and cutover does.
 */

const fixtures: SplitFixture[] = [];
const writers: Writer[] = [];
let template: string;

beforeAll(async () => {
  assertBuilt();
  template = await sampleTemplate(servers().main, 0.2);
});

afterAll(async () => {
  for (const w of writers) await w.stop();
  for (const fx of fixtures) await fx.cleanup();
  if (template) await dropTemplate(servers().main, template);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The tables the writers insert into, by service key, and the leaf their rows land in: its rows and sequence differ from a run without writers. */
const WRITES = [
  { key: 'user', table: 'audit_logs', leaf: 'public.audit_logs', insert: `INSERT INTO audit_logs (user_id, action, entity, entity_id) VALUES ((SELECT min(id) FROM users), 'online.write', 'device', $1) RETURNING id::text AS id` },
  { key: 'device', table: 'device_events', leaf: 'public.device_events_2025_02', insert: `INSERT INTO device_events (device_id, event_type, payload, occurred_at) VALUES ((SELECT min(id) FROM devices), 'heartbeat', jsonb_build_object('n', $1::bigint), '2025-02-10T00:00:00Z'::timestamptz + $1 * interval '1 s') RETURNING id::text AS id` },
  { key: 'billing', table: '"Billing ""Audit"" Log"', leaf: 'public.Billing "Audit" Log', insert: `INSERT INTO "Billing ""Audit"" Log" (order_id, "Event Type", actor, detail, logged_at) VALUES ((SELECT min(id) FROM orders), 'order.paid', 'writer', jsonb_build_object('n', $1::bigint), now()) RETURNING id::text AS id` },
] as const;

/** A client of the source inserting into one service's table on its own connection until the fence refuses it; every insert that returned is acknowledged. */
class Writer {
  acks: string[] = [];
  errors: string[] = [];
  fenced: string | null = null;
  private stopped = false;
  private done: Promise<void> = Promise.resolve();

  constructor(
    private readonly url: string,
    readonly spec: (typeof WRITES)[number],
  ) {
    writers.push(this);
  }

  start(): void {
    this.done = this.loop().catch((err: unknown) => void this.errors.push(`writer failed: ${(err as Error).message}`));
  }

  private async loop(): Promise<void> {
    const c = new pg.Client({ connectionString: this.url });
    c.on('error', () => undefined);
    await c.connect();
    try {
      for (let n = 0; !this.stopped; n++) {
        try {
          this.acks.push((await c.query<{ id: string }>(this.spec.insert, [n])).rows[0]!.id);
        } catch (err) {
          const message = (err as Error).message;
          if (message.includes('has moved to database')) {
            this.fenced = message;
            return;
          }
          this.errors.push(message);
        }
        await sleep(30);
      }
    } finally {
      await c.end();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  finished(): Promise<void> {
    return this.done;
  }
}

async function onlineSplit(): Promise<{ fx: SplitFixture; plan: Plan }> {
  const fx = await splitFixture({ template, withConfig: true, edit: (doc) => void (doc.mode = 'online') });
  fixtures.push(fx);
  // The append-only login log has no primary key: with a replica identity it replicates.
  await query(fx.sourceUrl, `ALTER TABLE user_login_history REPLICA IDENTITY FULL`);
  return { fx, plan: await fx.plan() };
}

async function ok(fx: SplitFixture, ...args: string[]): Promise<string> {
  const r = await fx.cli(args[0]!, ...args.slice(1));
  expect(r.code, `${args.join(' ')}: ${r.stderr}\n${r.stdout}`).toBe(0);
  return r.stdout;
}

interface StatusJson {
  services: Array<{ name: string; state: string }>;
  replication: Array<{ service: string; exists: boolean; syncing: number | null }>;
}

async function statusOf(fx: SplitFixture): Promise<StatusJson> {
  return JSON.parse(await ok(fx, 'status', '--json')) as StatusJson;
}

const states = (s: StatusJson) => Object.fromEntries(s.services.map((x) => [x.name, x.state]));
const slots = (s: StatusJson) => Object.fromEntries(s.replication.map((x) => [x.service, x.exists]));

const starts = (plan: Plan) => plan.steps.filter((s): s is StartReplicationStep => s.kind === 'start_replication');

/** The leaf tables each service database replicates, by database. */
function replicatedLeaves(plan: Plan): Map<string, string[]> {
  return new Map(starts(plan).map((s) => [s.target.database, (s.leaves ?? []).map((l) => l.table).sort()]));
}

/**
 * Signature lines about what the writers changed (their tables' sequences) left out, and
 * the reverse replication's role (named after the split) normalised: everything else
 * must equal a run without writers.
 */
function withoutWritten(signature: Record<string, string[]>): Record<string, string[]> {
  const seqs = ['audit_logs_id_seq', 'device_events_id_seq', 'Audit'];
  return Object.fromEntries(
    Object.entries(signature).map(([db, lines]) => [
      db,
      lines.filter((l) => !(l.startsWith('sequence ') && seqs.some((s) => l.includes(s)))).map((l) => l.replace(/cps_[0-9a-f]+_rev_[^=,}\s]*_r=/g, '<reverse role>=')),
    ]),
  );
}

/** Rows and checksums of every table the subscriptions fill, per service database, as the split's services name them. */
async function targetSums(fx: SplitFixture, plan: Plan): Promise<Record<string, Record<string, TableSum>>> {
  const out: Record<string, Record<string, TableSum>> = {};
  const cmp = await compareWithSource(fx);
  for (const c of cmp) out[c.database.replace(fx.prefix, '<p>')] = c.target;
  expect(Object.keys(out).length).toBe(plan.services.length);
  return out;
}

/** What the servers hold of one service's forward replication: its slot, publication, replication role, subscription, database and role. */
async function replicationOf(fx: SplitFixture, step: StartReplicationStep) {
  const svc = fx.services.find((s) => s.database === step.target.database)!;
  const one = async (sql: string, params: unknown[], url = fx.sourceServer) => (await query(url, sql, params)).length;
  return {
    slot: await one(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [step.slot]),
    publication: await one(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [step.publication], fx.sourceUrl),
    replicationRole: await one(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [replicationRoleName(step.publication)]),
    subscription: await one(`SELECT 1 FROM pg_subscription WHERE subname = $1`, [step.subscription], svc.serverUrl),
    database: await one(`SELECT 1 FROM pg_database WHERE datname = $1`, [svc.database], svc.serverUrl),
    role: await one(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [svc.role], svc.serverUrl),
  };
}

describe('an online split applied service by service', () => {
  it('one service first, then the rest, with writers on the source throughout: cutover waits for all, then ends as one apply and cutover', async () => {
    // The reference: the same source split in one online apply and one cutover, no writer.
    const ref = await onlineSplit();
    await ok(ref.fx, 'apply', ref.fx.planFile, '--yes', '--jobs', '2');
    await ok(ref.fx, 'cutover', '--yes');
    const refSignature = await splitSignature(ref.fx.services.map((s) => ({ name: s.name, serverUrl: s.serverUrl, database: s.database })), ref.fx.prefix);
    const refSums = await targetSums(ref.fx, ref.plan);

    const { fx, plan } = await onlineSplit();
    const ws = WRITES.map((w) => new Writer(fx.sourceUrl, w));
    for (const w of ws) w.start();

    const first = await ok(fx, 'apply', fx.planFile, '--service', 'billing-service', '--yes', '--jobs', '2');
    expect(first).toMatch(/billing-service of split .* applied/);
    expect(first).toContain('apply --service api-gateway,user-service,device-service,app-service,notification-service');
    const one = await statusOf(fx);
    expect(states(one)).toEqual({
      'api-gateway': 'not applied',
      'user-service': 'not applied',
      'device-service': 'not applied',
      'app-service': 'not applied',
      'billing-service': 'replicating',
      'notification-service': 'not applied',
    });
    expect(slots(one)).toEqual({ 'api-gateway': false, 'user-service': false, 'device-service': false, 'app-service': false, 'billing-service': true });
    expect(one.replication.find((r) => r.service === 'billing-service')!.syncing).toBe(0);
    const human = await ok(fx, 'status', '--no-color');
    expect(human).toMatch(/billing-service +replicating/);
    expect(human).toMatch(/user-service +not applied/);
    // Only billing's database exists; its tables hold the source's rows, the writer's included, while the others run on the source.
    for (const s of fx.services) {
      expect((await query(s.serverUrl, `SELECT 1 FROM pg_database WHERE datname = $1`, [s.database])).length, s.database).toBe(s.key === 'billing' ? 1 : 0);
    }
    const billingWriter = ws.find((w) => w.spec.key === 'billing')!;
    const seen = billingWriter.acks.length;
    expect(seen).toBeGreaterThan(0);
    await eventually('billing-service replicates the writes made after its apply', async () => {
      const [r] = await query<{ n: number }>(fx.service('billing').url, `SELECT count(*)::int AS n FROM "Billing ""Audit"" Log" WHERE id = ANY ($1::bigint[])`, [billingWriter.acks.slice(0, seen + 5)]);
      return billingWriter.acks.length > seen + 5 && r!.n === seen + 5;
    });

    // Cutover refuses while services are not applied, naming them; nothing is fenced.
    const refused = await fx.cli('cutover', '--yes');
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/api-gateway, user-service, device-service, app-service, notification-service are not applied yet/);
    expect(refused.stderr).toContain('apply --service api-gateway,user-service,device-service,app-service,notification-service');
    expect(await query(fx.sourceUrl, `SELECT tgname FROM pg_trigger WHERE tgname LIKE 'cloudphone_split%'`)).toEqual([]);
    for (const w of ws) expect(w.fenced, w.spec.table).toBeNull();

    await ok(fx, 'apply', fx.planFile, '--service', 'api-gateway,user-service,device-service,app-service,notification-service', '--yes', '--jobs', '2');
    const all = await statusOf(fx);
    expect(new Set(Object.values(states(all)))).toEqual(new Set(['replicating']));
    expect(Object.values(slots(all)).every(Boolean)).toBe(true);
    const again = await ok(fx, 'apply', fx.planFile, '--yes');
    expect(again).toContain('nothing left to do');
    await sleep(500);
    for (const w of ws) expect(w.errors, w.spec.table).toEqual([]);

    await ok(fx, 'cutover', '--yes');
    for (const w of ws) await w.finished();
    for (const w of ws) {
      expect(w.errors, w.spec.table).toEqual([]);
      expect(w.fenced, w.spec.table).toMatch(/has moved to database/);
    }
    expect(new Set(Object.values(states(await statusOf(fx))))).toEqual(new Set(['cut over']));

    // Every acknowledged write is in its service's new database.
    for (const w of ws) {
      const [r] = await query<{ n: number }>(fx.service(w.spec.key).url, `SELECT count(*)::int AS n FROM ${w.spec.table} WHERE id = ANY ($1::bigint[])`, [w.acks]);
      expect(r!.n, w.spec.table).toBe(w.acks.length);
    }
    // Every target table equals the fenced source, rows and checksums.
    const leaves = replicatedLeaves(plan);
    for (const c of await compareWithSource(fx)) {
      expect(c.tables, `tables of ${c.database}`).toEqual(leaves.get(c.database) ?? []);
      expect(c.target, `rows and checksums of ${c.database}`).toEqual(c.source);
    }
    // As one online apply and cutover: the same catalogs (sequences read before anything takes a value), and the same rows wherever no writer wrote.
    const signature = await splitSignature(fx.services.map((s) => ({ name: s.name, serverUrl: s.serverUrl, database: s.database })), fx.prefix);
    expect(withoutWritten(signature)).toEqual(withoutWritten(refSignature));
    const sums = await targetSums(fx, plan);
    const written = new Set<string>(WRITES.map((w) => w.leaf));
    const unwritten = (r: Record<string, Record<string, TableSum>>) =>
      Object.fromEntries(Object.entries(r).map(([db, t]) => [db, Object.fromEntries(Object.entries(t).filter(([table]) => !written.has(table)))]));
    expect(unwritten(sums)).toEqual(unwritten(refSums));
    // The writers' tables hold the reference's rows plus exactly the acknowledged writes.
    for (const w of ws) {
      const db = fx.service(w.spec.key).database.replace(fx.prefix, '<p>');
      expect(sums[db]![w.spec.leaf]!.rows, w.spec.leaf).toBe(refSums[db]![w.spec.leaf]!.rows + w.acks.length);
    }
    await expectSampleDenormalized(fx, plan);
    const verified = await fx.cli('verify', '--checksums');
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    // After cutover only the whole split goes back (through reverse replication): --service is refused, nothing changed.
    const fenceBefore = await query(fx.sourceUrl, `SELECT tgrelid::regclass::text AS t FROM pg_trigger WHERE tgname = 'cloudphone_split_fence' ORDER BY 1`);
    expect(fenceBefore.length).toBeGreaterThan(0);
    const partial = await fx.cli('rollback', '--service', 'billing-service', '--yes');
    expect(partial.code, partial.stderr + partial.stdout).toBe(2);
    expect(partial.stderr).toMatch(/billing-service cannot be rolled back alone/);
    expect(partial.stderr).toContain('rollback without --service');
    expect(await query(fx.sourceUrl, `SELECT tgrelid::regclass::text AS t FROM pg_trigger WHERE tgname = 'cloudphone_split_fence' ORDER BY 1`)).toEqual(fenceBefore);
    expect((await query(fx.service('billing').serverUrl, `SELECT 1 FROM pg_database WHERE datname = $1`, [fx.service('billing').database])).length).toBe(1);
    // Last: it takes a value of every target sequence.
    await expectSequencesPastSource(fx);
  }, 300_000);

  it('rollback --service before cutover removes that service only; the others keep replicating', async () => {
    const { fx, plan } = await onlineSplit();
    await ok(fx, 'apply', fx.planFile, '--service', 'device-service,billing-service', '--yes', '--jobs', '2');
    const billing = starts(plan).find((s) => s.target.service === 'billing-service')!;
    const device = starts(plan).find((s) => s.target.service === 'device-service')!;
    const present = { slot: 1, publication: 1, replicationRole: 1, subscription: 1, database: 1, role: 1 };
    expect(await replicationOf(fx, billing)).toEqual(present);

    const rolled = await ok(fx, 'rollback', '--service', 'billing-service', '--yes');
    expect(rolled).toMatch(/billing-service of split .* rolled back/);
    expect(await replicationOf(fx, billing)).toEqual({ slot: 0, publication: 0, replicationRole: 0, subscription: 0, database: 0, role: 0 });
    // No table-sync slot of its subscription is left either.
    expect(await query(fx.sourceServer, `SELECT slot_name FROM pg_replication_slots WHERE database = $1 AND slot_name <> $2`, [fx.sourceDb, device.slot])).toEqual([]);
    expect(await replicationOf(fx, device)).toEqual(present);
    const status = await statusOf(fx);
    expect(states(status)['billing-service']).toBe('not applied');
    expect(states(status)['device-service']).toBe('replicating');
    expect(slots(status)['device-service']).toBe(true);

    // Device-service still follows the source.
    const [row] = await query<{ id: string }>(fx.sourceUrl, `INSERT INTO device_events (device_id, event_type, payload, occurred_at) VALUES ((SELECT min(id) FROM devices), 'after-rollback', '{}', '2025-02-10T00:00:00Z') RETURNING id::text AS id`);
    await eventually('device-service replicates a write made after the rollback of billing-service', async () => {
      return (await query(fx.service('device').url, `SELECT 1 FROM device_events WHERE id = $1`, [row!.id])).length === 1;
    });

    // Billing-service can be applied again: its steps are not done any more.
    await ok(fx, 'apply', fx.planFile, '--service', 'billing-service', '--yes', '--jobs', '2');
    expect(await replicationOf(fx, billing)).toEqual(present);
    const tables = new Map((billing.leaves ?? []).map((l) => [l.table, l.columns]));
    const [source, target] = await Promise.all([tableSums(fx.sourceUrl, tables), tableSums(fx.service('billing').url, tables)]);
    expect(target).toEqual(source);
  }, 180_000);
});
