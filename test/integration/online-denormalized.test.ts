import { afterAll, describe, expect, it } from 'vitest';
import { query } from '../harness/servers.js';
import type { Plan } from '../../src/plan/model.js';
import { Journal } from '../../src/engine/journal.js';
import { TEST_PAUSE_ENV } from '../../src/engine/test-pause.js';
import { TRACK_SCHEMA } from '../../src/online/denormalize-tracking.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { assertBuilt, runCli, spawnCli } from './helpers/cli.js';
import { holdPauseLocks, pausedSteps } from './helpers/crash-case.js';
import { compareWithSource } from './helpers/table-sums.js';
import { expectSampleDenormalized } from './helpers/denormalized-values.js';

/**
 * Denormalized columns are current before the fence: `cutover` fills them and starts
 * recording, on the targets, the rows the subscriptions write from then on; after the
 * fence, catch_up refills only those. The test stops cutover right before its fence
 * (src/engine/test-pause.ts), writes to the source, lets it go on, and counts what
 * the refill touched (its journal detail) against the rows it wrote.
 */

const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

async function waitUntil(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`never happened: ${what}`);
}

describe('online cutover refills denormalized columns only for the rows written since the fill before the fence', () => {
  it('counts the refilled rows: the rows written while cutover waited before its fence, not the tables', async () => {
    assertBuilt();
    const fx = await splitFixture({ scale: 0.3, withConfig: true, edit: (doc) => void (doc.mode = 'online') });
    fixtures.push(fx);
    await query(fx.sourceUrl, `ALTER TABLE user_login_history REPLICA IDENTITY FULL`);
    const plan: Plan = await fx.plan();
    const applied = await runCli(['apply', fx.planFile, '--yes', '--jobs', '2'], fx.env);
    expect(applied.code, applied.stderr).toBe(0);
    // Written after apply, before cutover: the fill before the fence covers them.
    await query(fx.sourceUrl, `UPDATE users SET username = 'before_' || id WHERE id IN (SELECT user_id FROM devices WHERE user_id IS NOT NULL ORDER BY id LIMIT 3)`);

    const fence = plan.steps.find((s) => s.kind === 'fence_source')!.id;
    const catchUp = plan.steps.find((s) => s.kind === 'catch_up')!.id;
    const locks = await holdPauseLocks(fx, [fence]);
    const run = spawnCli(['cutover', '-m', fx.manifestFile, '--yes', '--json'], { ...fx.env, [TEST_PAUSE_ENV]: `before:${fence}` });
    let released = false;
    try {
      await waitUntil('cutover waits before its fence', async () => (await pausedSteps(fx, [fence])).length > 0);
      const deviceUrl = fx.service('device').url;
      // Before the fence, the column is already filled: every device of a known user has its name.
      const [pre] = await query<{ missing: number; filled: number }>(
        deviceUrl,
        `SELECT count(*) FILTER (WHERE user_id IS NOT NULL AND user_name IS NULL)::int AS missing, count(user_name)::int AS filled FROM devices`,
      );
      expect(pre!.filled).toBeGreaterThan(0);
      // (a device whose user is gone would keep NULL: the sample has none)
      expect(pre!.missing).toBe(0);
      expect(await query(deviceUrl, `SELECT 1 FROM pg_namespace WHERE nspname = $1`, [TRACK_SCHEMA])).toHaveLength(1);

      // Written now, between the fill and the fence: new devices, renamed users, an order pointing to another device.
      const users = (await query<{ id: string }>(fx.sourceUrl, `SELECT id::text FROM users WHERE id IN (SELECT user_id FROM orders) ORDER BY id DESC LIMIT 2`)).map((r) => r.id);
      const added = (
        await query<{ id: string }>(
          fx.sourceUrl,
          `INSERT INTO devices (user_id, name, model, android_version) SELECT $1::bigint, 'written-' || g, 'Pixel', '14' FROM generate_series(1, 4) g RETURNING id::text`,
          [users[0]],
        )
      ).map((r) => r.id);
      await query(fx.sourceUrl, `UPDATE users SET username = 'since_' || id WHERE id = ANY ($1::bigint[])`, [users]);
      const [moved] = await query<{ id: string }>(
        fx.sourceUrl,
        `UPDATE orders SET device_id = $1::bigint WHERE id = (SELECT min(id) FROM orders WHERE device_id IS NOT NULL) RETURNING id::text`,
        [added[0]],
      );
      // Updates that change neither a reference nor a value read: no refill.
      await query(fx.sourceUrl, `UPDATE devices SET cpu_cores = 4 WHERE id IN (SELECT id FROM devices ORDER BY id LIMIT 50)`);

      const count = async (sql: string, params: unknown[]): Promise<number> => (await query<{ n: number }>(fx.sourceUrl, sql, params))[0]!.n;
      const expected = {
        devices: await count(`SELECT count(*)::int AS n FROM devices WHERE id = ANY ($1::bigint[]) OR user_id = ANY ($2::bigint[])`, [added, users]),
        ordersUser: await count(`SELECT count(*)::int AS n FROM orders WHERE user_id = ANY ($1::bigint[])`, [users]),
        ordersDevice: await count(`SELECT count(*)::int AS n FROM orders WHERE device_id = ANY ($1::bigint[]) OR id = $2::bigint`, [added, moved!.id]),
      };
      const sizes = {
        devices: await count(`SELECT count(*)::int AS n FROM devices`, []),
        orders: await count(`SELECT count(*)::int AS n FROM orders`, []),
      };

      await locks.release();
      released = true;
      const done = await run.done;
      expect(done.code, done.stderr).toBe(0);

      const journal = await Journal.open(fx.controlUrl);
      let detail: Record<string, unknown> | undefined;
      try {
        detail = (await journal.doneSteps(fx.name)).get(catchUp)?.detail;
      } finally {
        await journal.close();
      }
      const billingDb = fx.service('billing').database;
      const deviceDb = fx.service('device').database;
      expect(detail?.refilled).toEqual({
        [`${deviceDb}:public.devices.user_name`]: 'written',
        [`${billingDb}:public.orders.user_name`]: 'written',
        [`${billingDb}:public.orders.device_name`]: 'written',
      });
      expect(detail?.filled).toEqual({
        [`${deviceDb}:public.devices.user_name`]: expected.devices,
        [`${billingDb}:public.orders.user_name`]: expected.ordersUser,
        [`${billingDb}:public.orders.device_name`]: expected.ordersDevice,
      });
      expect(expected.devices).toBeGreaterThanOrEqual(4);
      expect(expected.devices).toBeLessThan(sizes.devices / 10);
      expect(expected.ordersUser + expected.ordersDevice).toBeLessThan(sizes.orders / 10);
      const result = JSON.parse(done.stdout) as { denormalizedBeforeFence?: { tracked: string[]; untracked: string[]; filled: number } };
      expect(result.denormalizedBeforeFence?.tracked).toHaveLength(3);
      expect(result.denormalizedBeforeFence?.untracked).toEqual([]);
    } finally {
      if (!released) await locks.release();
      await run.done;
    }

    // The values are those of the fenced source, row by row; the tracking is gone from every target.
    await expectSampleDenormalized(fx, plan);
    for (const c of await compareWithSource(fx)) expect(c.target, c.database).toEqual(c.source);
    for (const s of fx.services) {
      expect(await query(s.url, `SELECT 1 FROM pg_namespace WHERE nspname = $1`, [TRACK_SCHEMA]).catch(() => []), s.database).toEqual([]);
      expect(await query(s.url, `SELECT tgname FROM pg_trigger WHERE tgname LIKE 'cloudphone_split_track%'`).catch(() => []), s.database).toEqual([]);
    }
    const verified = await fx.cli('verify', '--checksums');
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  });
});
