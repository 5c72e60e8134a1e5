import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pg15, query, servers, second } from '../harness/servers.js';
import type { Plan } from '../../src/plan/model.js';
import { dropTemplate, sampleTemplate, splitFixture, type SplitFixture, type SplitFixtureOptions } from './helpers/split-fixture.js';
import { expectSameData, expectSequencesPastSource, totalRows } from './helpers/assert-split.js';
import { schemaDifferences, schemaDump } from './helpers/schema-dump.js';
import { sampleCounts } from '../fixtures/index.js';
import { expectSampleDenormalized } from './helpers/denormalized-values.js';

const fixtures: SplitFixture[] = [];
/** The cases after the first prove no sizes: a third of the sample is enough for them. */
const SMALL = 0.3;
/** That third, loaded once on the 18 server: the two cases whose source is there clone it. */
let small18 = '';
beforeAll(async () => {
  small18 = await sampleTemplate(servers().main, SMALL);
});
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
  if (small18) await dropTemplate(servers().main, small18);
});

async function planAndApply(opts: SplitFixtureOptions): Promise<{ fx: SplitFixture; plan: Plan }> {
  const fx = await splitFixture(opts);
  fixtures.push(fx);
  const plan = await fx.plan();
  const r = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toContain(`Split ${fx.name} applied`);
  return { fx, plan };
}

async function serverVersion(url: string): Promise<number> {
  const [row] = await query<{ v: number }>(url, `SELECT current_setting('server_version_num')::int / 10000 AS v`);
  return row!.v;
}

describe('apply splits the sample database into its six databases', () => {
  it('from PostgreSQL 15 to 18: same rows, same checksums, sequences past the source', async () => {
    const { fx, plan } = await planAndApply({ source: pg15(), targets: servers().main });
    expect(await serverVersion(fx.sourceUrl)).toBe(15);
    expect(await serverVersion(fx.service('user').url)).toBe(18);
    expect(plan.services.map((s) => s.database)).toEqual(fx.services.map((s) => s.database));
    const cmp = await expectSameData(fx, plan);
    expect(totalRows(cmp)).toBeGreaterThan(sampleCounts(1).deviceEvents);
    await expectSampleDenormalized(fx, plan);
    expect(await expectSequencesPastSource(fx)).toBeGreaterThan(10);
    // The copies are read-only where they are copied, each write refused naming where the rows belong; the owner's table takes it.
    const gateway = fx.service('api-gateway');
    const owner = fx.service('user');
    for (const write of [`UPDATE users SET phone = phone WHERE id = 1`, `DELETE FROM roles`, `TRUNCATE roles CASCADE`, `INSERT INTO roles (name) VALUES ('probe')`]) {
      await expect(query(gateway.url, write), write).rejects.toThrow(
        new RegExp(`table public\\.(users|roles) is a read-only copy: its rows belong to service user-service, in database ${owner.database}; write there`),
      );
    }
    await query(owner.url, `UPDATE users SET phone = phone WHERE id = 1`);
  });

  it('from 18 to 18 on the same server, every copy reading one snapshot', async () => {
    const { fx, plan } = await planAndApply({ source: servers().main, template: small18 });
    await expectSameData(fx, plan);
    await expectSampleDenormalized(fx, plan);
    const snapshots = await query<{ snapshot: string; n: number }>(
      fx.controlUrl,
      `SELECT detail->>'snapshot' AS snapshot, count(*)::int AS n FROM cloudphone_split.steps WHERE kind = 'copy_data' GROUP BY 1`,
    );
    expect(snapshots).toHaveLength(1);
    expect(snapshots[0]!.snapshot).toMatch(/^[0-9A-F]+-[0-9A-F]+-\d+$/);
    expect(snapshots[0]!.n).toBe(plan.steps.filter((st) => st.kind === 'copy_data').length);
    expect(await expectSequencesPastSource(fx)).toBeGreaterThan(10);
  });

  it('a small table empty in the copy\'s snapshot is only emptied on the target; the rest of its batch is copied', async () => {
    const fx = await splitFixture({ source: servers().main, template: small18 });
    fixtures.push(fx);
    await query(fx.sourceUrl, `DELETE FROM user_login_history`);
    const plan = await fx.plan();
    const r = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    expect(r.code, r.stderr).toBe(0);
    await expectSameData(fx, plan);
    const copies = await query<{ step_id: string; rows: string | null; empty: string | null; batch: string | null }>(
      fx.controlUrl,
      `SELECT step_id, rows::text AS rows, detail->>'empty' AS empty, detail->>'batch' AS batch FROM cloudphone_split.steps WHERE kind = 'copy_data' ORDER BY step_id`,
    );
    const emptied = copies.filter((c) => c.empty === 'true');
    expect(emptied.map((c) => c.step_id)).toEqual(copies.filter((c) => c.step_id.endsWith(':public.user_login_history')).map((c) => c.step_id));
    expect(emptied.length).toBeGreaterThan(0);
    expect(emptied.every((c) => c.batch !== null && Number(c.rows ?? 0) === 0)).toBe(true);
    // Its batch's other tables were copied, rows and all.
    const batched = copies.filter((c) => c.batch !== null && c.empty === null);
    expect(batched.length).toBeGreaterThan(0);
    expect(batched.some((c) => Number(c.rows) > 0)).toBe(true);
    const verified = await fx.cli('verify', '--checksums');
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  });

  it('onto two target servers in one run', async () => {
    const { fx, plan } = await planAndApply({ source: servers().main, billing: second(), template: small18 });
    const billing = fx.service('billing');
    expect(billing.server).toBe('billing-pg');
    const onSecond = await query<{ datname: string }>(second(), `SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${fx.prefix}%`]);
    expect(onSecond.map((r) => r.datname)).toEqual([billing.database]);
    const onMain = await query<{ n: number }>(servers().main, `SELECT count(*)::int AS n FROM pg_database WHERE datname = $1`, [billing.database]);
    expect(onMain[0]!.n).toBe(0);
    await expectSameData(fx, plan);
    await expectSampleDenormalized(fx, plan);
    await expectSequencesPastSource(fx);
  });

  it('gives each table the schema pg_dump shows in the source, less the dropped foreign keys (15 to 15)', async () => {
    const fx = await splitFixture({ source: pg15(), scale: SMALL });
    fixtures.push(fx);
    const before = await schemaDump(fx.sourceUrl);
    const plan = await fx.plan();
    const r = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    expect(r.code, r.stderr).toBe(0);
    let dropped = 0;
    for (const s of plan.services) {
      const dump = await schemaDump(fx.service(s.name).url);
      expect(schemaDifferences(before, dump, plan, s.database), s.database).toEqual([]);
      // The oracle sees what was left out: without the plan's list, every dropped key is reported missing.
      const blind: Plan = { ...plan, services: plan.services.map((x) => (x === s ? { ...x, droppedForeignKeys: [] } : x)) };
      const reported = schemaDifferences(before, dump, blind, s.database);
      expect(reported.length, s.database).toBe(s.droppedForeignKeys.length);
      for (const p of reported) expect(p).toMatch(/^missing in .*: FK CONSTRAINT /);
      dropped += s.droppedForeignKeys.length;
    }
    expect(dropped).toBeGreaterThanOrEqual(4);
    await expectSameData(fx, plan);
  });
});
