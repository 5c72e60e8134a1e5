import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import pg from 'pg';
import { query, withDatabase } from '../harness/servers.js';
import { pausedBefore, stepOf } from './helpers/paused-run.js';
import { runCli, spawnCli } from './helpers/cli.js';
import { opsAlsoMovesInvoices, wavesFixture, writeError, type WavesFixture } from './helpers/waves-fixture.js';
import { CLAIM_NAMESPACE } from '../../src/waves/source-claim.js';

const fixtures: WavesFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

/** billing moves invoices and invoice_lines; ops moves events and, here, invoices too. */
async function overlapping(): Promise<WavesFixture> {
  const fx = await wavesFixture({ edit: opsAlsoMovesInvoices });
  fixtures.push(fx);
  return fx;
}

async function databaseExists(fx: WavesFixture, name: string): Promise<boolean> {
  return (await query(fx.sourceServer, `SELECT 1 FROM pg_database WHERE datname = $1`, [name])).length === 1;
}

describe('two splits of one source moving the same table, applied at the same time', () => {
  it('an apply that has started and changed nothing yet still moves its tables: the other split is refused (exit 4) before it makes anything', async () => {
    const fx = await overlapping();
    const [billingPlan, opsPlan] = [join(fx.dir, 'billing.plan.json'), join(fx.dir, 'ops.plan.json')];
    expect((await fx.billing.cli('plan', '-o', billingPlan)).code).toBe(0);
    expect((await fx.ops.cli('plan', '-o', opsPlan)).code).toBe(0);
    // billing's run is recorded and waits before its first step: nothing of it exists yet.
    const paused = await pausedBefore({ ...fx, step: await stepOf(billingPlan, 'preflight'), args: ['apply', billingPlan, '--yes'], env: fx.env });
    try {
      // Planned now, ops's manifest names a table being moved (exit 2, as `plan` says)...
      const planned = await fx.ops.cli('apply', '--yes');
      expect(planned.code, planned.stdout + planned.stderr).toBe(2);
      expect(planned.stderr).toContain(`invoices was being moved by split ${fx.billing.name}`);
      // ...and the plan made before billing started is refused as stale.
      const ops = await runCli(['apply', opsPlan, '--yes'], fx.env);
      expect(ops.code, ops.stdout + ops.stderr).toBe(4);
      expect(ops.stderr).toContain(`the plan moves public.invoices, which was being moved by split ${fx.billing.name}`);
      expect(ops.stderr).toContain(`split ${fx.billing.name} is moving them now: let it finish (or roll it back`);
      expect(await databaseExists(fx, fx.ops.database)).toBe(false);
    } finally {
      await paused.release();
    }
    const billing = await paused.run.done;
    expect(billing.code, billing.stdout + billing.stderr).toBe(0);
    expect(await writeError(fx.sourceUrl, `INSERT INTO invoices (account_id, total) VALUES (1, 1)`)).toMatch(new RegExp(`split ${fx.billing.name}\\)`));
  });

  it('started at the very same moment, both past their first checks: one runs, the other is refused (exit 4) before it makes anything', async () => {
    const fx = await overlapping();
    const control = withDatabase(fx.sourceServer, `${fx.prefix}control`);
    await query(fx.sourceServer, `CREATE DATABASE "${fx.prefix}control"`);
    // This test holds the source's claim: both applies pass their first checks, take their split's lock and wait for it.
    const holder = new pg.Client({ connectionString: control });
    holder.on('error', () => undefined);
    await holder.connect();
    await holder.query('SELECT pg_advisory_lock(hashtext($1::text), hashtext($2::text))', [CLAIM_NAMESPACE, fx.sourceDb]);
    const runs = [fx.billing, fx.ops].map((s) => spawnCli(['apply', '-m', s.manifestFile, '--yes'], fx.env));
    try {
      const waiting = async () =>
        (
          await query<{ n: number }>(
            control,
            `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = hashtext($1::text)::oid
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
            [CLAIM_NAMESPACE],
          )
        )[0]!.n;
      await expect.poll(waiting, { timeout: 60_000, interval: 50, message: `both applies wait for the claim: ${runs.map((r) => r.output().stderr).join('\n')}` }).toBe(2);
    } finally {
      await holder.end();
    }
    const [billing, ops] = await Promise.all(runs.map((r) => r.done));
    const ended = [billing!, ops!].map((r) => r.code).sort();
    expect(ended, billing!.stderr + ops!.stderr).toEqual([0, 4]);
    const [won, lost] = billing!.code === 0 ? [fx.billing, fx.ops] : [fx.ops, fx.billing];
    const refused = billing!.code === 0 ? ops! : billing!;
    expect(refused.stderr).toContain(`which was being moved by split ${won.name}`);
    // The refused split made nothing: no database, no fence; the table is the winner's.
    expect(await databaseExists(fx, lost.database)).toBe(false);
    expect(await query(fx.sourceUrl, `SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = 'cloudphone_split_fence' AND pg_get_triggerdef(oid) LIKE $1`, [`%${lost.name}%`])).toEqual([{ n: 0 }]);
    expect(await writeError(fx.sourceUrl, `INSERT INTO invoices (account_id, total) VALUES (1, 1)`)).toMatch(new RegExp(`split ${won.name}\\)`));
  });
});
