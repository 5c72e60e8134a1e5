import pg from 'pg';
import { expect } from 'vitest';
import { query, servers, second } from '../../harness/servers.js';
import type { Plan, StartReverseReplicationStep } from '../../../src/plan/model.js';
import { replicationPrefix } from '../../../src/online/index.js';
import { Journal } from '../../../src/engine/journal.js';
import { splitFixture, type SplitFixture, type SplitFixtureOptions } from './split-fixture.js';
import { compareWithSource, sequenceValues } from './table-sums.js';
import { runCli } from './cli.js';
import { inProcess, treeFiles } from './crash-case.js';

/**
 * An online split of the sample, applied and cut over by the CLI (in this process, one run
 * at a time: nothing here is killed, so no process of its own is needed): services write
 * to their new databases next.
 */
export async function cutOver(
  fixtures: SplitFixture[],
  opts: SplitFixtureOptions = {},
  beforeApply?: (fx: SplitFixture, plan: Plan) => Promise<void>,
): Promise<{ fx: SplitFixture; plan: Plan; original: Record<string, string> }> {
  const fx = await splitFixture({ scale: 0.2, withConfig: true, ...opts, edit: (doc) => void (doc.mode = 'online') });
  fixtures.push(fx);
  // The append-only login log has no primary key: with a replica identity it replicates (both ways).
  await query(fx.sourceUrl, `ALTER TABLE user_login_history REPLICA IDENTITY FULL`);
  const plan = await inProcess(() => fx.plan());
  // The services tree before apply: rollback restores it byte for byte.
  const original = await treeFiles(fx);
  await beforeApply?.(fx, plan);
  const applied = await inProcess(() => runCli(['apply', fx.planFile, '--yes', '--jobs', '2'], fx.env));
  expect(applied.code, applied.stderr + applied.stdout).toBe(0);
  const cut = await inProcess(() => runCli(['cutover', '-m', fx.manifestFile, '--yes'], fx.env));
  expect(cut.code, cut.stderr + cut.stdout).toBe(0);
  return { fx, plan, original };
}

export function reverseStarts(plan: Plan): StartReverseReplicationStep[] {
  return plan.steps.filter((s): s is StartReverseReplicationStep => s.kind === 'start_reverse_replication');
}

/** The source database's subscriptions, by name. */
export async function sourceSubscriptions(fx: SplitFixture): Promise<string[]> {
  const rows = await query<{ subname: string }>(
    fx.sourceUrl,
    `SELECT subname FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY 1`,
  );
  return rows.map((r) => r.subname);
}

/** Polls until `check` holds (at most ~30 s, then fails naming `what`): replication is asynchronous. */
export async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`never happened: ${what}`);
}

/** Nothing of the split's replication (either way) is left on any server: no slot, subscription, publication or replication role. */
export async function expectNoReplicationAnywhere(fx: SplitFixture): Promise<void> {
  const prefix = `${replicationPrefix(fx.name)}%`;
  const databases = [fx.sourceDb, ...fx.services.map((s) => s.database)];
  for (const server of new Set([fx.sourceServer, servers().main, second(), ...fx.services.map((s) => s.serverUrl)])) {
    expect(await query(server, `SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE $1 OR database = ANY ($2::text[])`, [prefix, databases]), 'slots').toEqual([]);
    expect(await query(server, `SELECT subname FROM pg_subscription WHERE subname LIKE $1`, [prefix]), 'subscriptions').toEqual([]);
    expect(await query(server, `SELECT rolname FROM pg_roles WHERE rolname LIKE $1`, [prefix]), 'replication roles').toEqual([]);
  }
  for (const url of [fx.sourceUrl, ...fx.services.map((s) => s.url)]) {
    expect(await query(url, `SELECT pubname FROM pg_publication`).catch(() => []), `publications of ${url.split('/').pop()}`).toEqual([]);
  }
}

/**
 * Every moved table of every service database equals the source's (rows and checksums
 * on the source's columns). Copies (`copies:`) are read-only references of another
 * service's tables, not carried back.
 */
export async function expectSourceHoldsEverything(fx: SplitFixture, plan: Plan): Promise<number> {
  const copies = new Set(plan.services.flatMap((s) => s.copies.map((t) => `${s.database}\0${t.name}`)));
  let n = 0;
  for (const c of await compareWithSource(fx)) {
    const keep = (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).filter(([t]) => !copies.has(`${c.database}\0${t}`)));
    expect(keep(c.source), `rows and checksums of ${c.database} in the source`).toEqual(keep(c.target));
    n += Object.keys(keep(c.target)).length;
  }
  return n;
}

/** Each sequence of the source is at or past its twin in the service databases. */
export async function expectSourceSequencesPast(fx: SplitFixture): Promise<number> {
  const source = await sequenceValues(fx.sourceUrl);
  let n = 0;
  for (const s of fx.services) {
    for (const [key, t] of Object.entries(await sequenceValues(s.url))) {
      const here = source[key];
      expect(here, `${key} in the source`).toBeDefined();
      if (t.called) {
        expect(here!.called, `${key} used in ${s.database}, never in the source`).toBe(true);
        expect(BigInt(here!.last) >= BigInt(t.last), `${key}: source ${here!.last}, ${s.database} ${t.last}`).toBe(true);
        n++;
      }
    }
  }
  return n;
}

/**
 * A service writing to its new database after cutover on its own connection: inserts,
 * updates and deletes until the database refuses a write because the split was rolled
 * back. Every write that returned is acknowledged; the inserted keys are kept.
 */
export class TargetWriter {
  ops = 0;
  inserted: string[] = [];
  fenced: string | null = null;
  errors: string[] = [];
  private stopped = false;
  private done: Promise<void> = Promise.resolve();

  constructor(
    private readonly url: string,
    private readonly statements: (i: number, inserted: string[]) => [string, unknown[]],
  ) {}

  start(): this {
    this.done = this.loop();
    return this;
  }

  private async loop(): Promise<void> {
    const c = new pg.Client({ connectionString: this.url });
    c.on('error', () => undefined);
    await c.connect();
    try {
      for (let i = 0; !this.stopped; i++) {
        const [sql, params] = this.statements(i, this.inserted);
        try {
          const r = await c.query<{ id?: string }>(sql, params);
          this.ops++;
          if (r.rows[0]?.id !== undefined) this.inserted.push(r.rows[0].id);
        } catch (err) {
          const message = (err as Error).message;
          if (message.includes('has gone back to database')) {
            this.fenced = message;
            return;
          }
          this.errors.push(message);
          if (this.errors.length > 20) return;
        }
        await new Promise((r) => setTimeout(r, 20));
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

  /** Resolves once `n` writes were acknowledged (or the writer ended). */
  async reached(n: number): Promise<void> {
    await eventually(`${n} writes to ${this.url.split('/').pop()}`, async () => this.ops >= n || this.fenced !== null || this.errors.length > 20);
  }
}

/** Writers of the sample's services: device events and heartbeats, audit logs and user names, order notes. */
export async function sampleWriters(fx: SplitFixture): Promise<TargetWriter[]> {
  const device = fx.service('device').url;
  const devices = await query<{ id: string }>(device, `SELECT id::text FROM devices ORDER BY id LIMIT 20`);
  const users = await query<{ id: string }>(fx.service('user').url, `SELECT id::text FROM users ORDER BY id LIMIT 20`);
  const orders = await query<{ id: string }>(fx.service('billing').url, `SELECT id::text FROM orders ORDER BY id LIMIT 20`);
  const pick = <T>(list: T[], i: number): T => list[i % list.length]!;
  const deviceWriter = (offset: number) =>
    new TargetWriter(device, (i, inserted) => {
      const d = pick(devices, i + offset).id;
      if (i % 3 === 0) return [`INSERT INTO device_events (device_id, event_type, payload, occurred_at) VALUES ($1, 'after-cutover', '{}', '2025-02-10T00:00:00Z'::timestamptz + $2 * interval '1 s') RETURNING id::text AS id`, [d, i + offset * 1000]];
      if (i % 3 === 1) return [`UPDATE devices SET cpu_cores = $2, last_heartbeat_at = now() WHERE id = $1`, [d, 1 + (i % 8)]];
      return [`DELETE FROM device_events WHERE id = $1`, [inserted[Math.floor(inserted.length / 2)] ?? '-1']];
    });
  return [
    deviceWriter(0),
    deviceWriter(7),
    new TargetWriter(fx.service('user').url, (i) => {
      const u = pick(users, i).id;
      return i % 2 === 0
        ? [`INSERT INTO audit_logs (user_id, action, entity, entity_id) VALUES ($1, 'after.cutover', 'user', $2) RETURNING id::text AS id`, [u, u]]
        : [`UPDATE users SET username = $2 WHERE id = $1`, [u, `renamed_${i}_${u}`]];
    }),
    new TargetWriter(fx.service('billing').url, (i) => [`UPDATE orders SET note = $2 WHERE id = $1`, [pick(orders, i).id, `after cutover ${i}`]]),
  ];
}

/** Writes to the new databases while rollback runs; returns the writers once each stopped at the fence of its database. */
export async function writeThroughRollback(fx: SplitFixture, writers: TargetWriter[], checkOutput?: (output: string) => void): Promise<TargetWriter[]> {
  const ws = await sampleWriters(fx);
  writers.push(...ws);
  for (const w of ws) w.start();
  for (const w of ws) await w.reached(12);
  const rolled = await inProcess(() => runCli(['rollback', '-m', fx.manifestFile, '--yes'], fx.env));
  expect(rolled.code, rolled.stderr + rolled.stdout).toBe(0);
  expect(rolled.stdout).toMatch(/kept database \S+cloudphone_device: fenced, kept/);
  // What the next apply needs: those databases dropped first (its preflight refuses them while they exist).
  expect(rolled.stdout).toMatch(/rolled back\. The new databases are kept, fenced \(.*cloudphone_device.*\): the next apply starts from scratch once they are dropped/);
  checkOutput?.(`${rolled.stdout}\n${rolled.stderr}`);
  for (const w of ws) await w.finished();
  for (const w of ws) {
    expect(w.errors).toEqual([]);
    expect(w.ops).toBeGreaterThanOrEqual(12);
    expect(w.fenced).toMatch(new RegExp(`has gone back to database ${fx.sourceDb}`));
  }
  return ws;
}

/** Everything a rollback through reverse replication promises, once it is done. */
export async function expectRolledBack(fx: SplitFixture, plan: Plan, original: Record<string, string>, ws: TargetWriter[]): Promise<void> {
  expect(await expectSourceHoldsEverything(fx, plan)).toBeGreaterThan(20);
  // The user-service writer only inserts audit logs (the device writers delete some of their events again).
  const audit = ws[2]!.inserted;
  expect(audit.length).toBeGreaterThan(0);
  const [found] = await query<{ n: number }>(fx.sourceUrl, `SELECT count(*)::int AS n FROM audit_logs WHERE id = ANY ($1::bigint[])`, [audit]);
  expect(found!.n).toBe(audit.length);
  expect(await expectSourceSequencesPast(fx)).toBeGreaterThan(0);
  expect(await treeFiles(fx)).toEqual(original);
  await expectNoReplicationAnywhere(fx);
  // The source takes writes again, with keys past every one the new databases handed out.
  const [node] = await query<{ id: string }>(fx.sourceUrl, `INSERT INTO nodes (hostname, region, capacity) VALUES ('back', 'eu', 1) RETURNING id::text AS id`);
  const [max] = await query<{ m: string }>(fx.service('device').url, `SELECT max(id)::text AS m FROM nodes`);
  expect(BigInt(node!.id) > BigInt(max!.m)).toBe(true);
  expect(await query(fx.sourceUrl, `SELECT tgname FROM pg_trigger WHERE tgname LIKE 'cloudphone\\_split\\_fence%'`)).toEqual([]);
  // The new databases are kept, fenced.
  await expect(query(fx.service('device').url, `UPDATE nodes SET capacity = capacity WHERE id = $1`, [max!.m])).rejects.toThrow(/has gone back to database/);
  const journal = await Journal.open(fx.controlUrl);
  try {
    expect(await journal.created(fx.name)).toEqual([]);
    expect((await journal.retention(fx.name)).map((r) => r.state)).toEqual(['restored']);
  } finally {
    await journal.close();
  }
  const again = await inProcess(() => fx.cli('rollback', '--yes'));
  expect(again.code, again.stderr).toBe(0);
  expect(again.stdout).toContain('nothing left to roll back');
}

