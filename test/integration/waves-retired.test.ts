import { afterAll, describe, expect, it } from 'vitest';
import { pg15, query, withDatabase } from '../harness/servers.js';
import { join } from 'node:path';
import { pausedBefore, stepOf } from './helpers/paused-run.js';
import { wavesFixture, type WavesFixture } from './helpers/waves-fixture.js';

/**
 * Retiring the source is for the last wave: a split of a source another split retired
 * could never write its fence there, and is refused before anything changes; and the
 * retiring split's prune never drops the database while another split it cannot see
 * (another journal, or not finished) still keeps fenced tables in it.
 */
const fixtures: WavesFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});
const DAY = 86_400_000;
const exists = async (db: string) => (await query(pg15(), `SELECT 1 FROM pg_database WHERE datname = $1`, [db])).length === 1;

describe('waves and a retired source', () => {
  it('a split of a source another split retired is refused by plan and apply, nothing created', async () => {
    const fx = await wavesFixture({ server: pg15(), edit: (doc, which) => void (which === 'ops' && ((doc.source as Record<string, unknown>).retire = true)) });
    fixtures.push(fx);
    const ops = await fx.ops.cli('apply', '--yes');
    expect(ops.code, ops.stderr).toBe(0);
    for (const args of [['plan'], ['apply', '--yes']]) {
      const r = await fx.billing.cli(args[0]!, ...args.slice(1));
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toContain(`the source database ${fx.sourceDb} was retired by split ${fx.ops.name} (read-only, its backup until `);
      expect(r.stderr).toContain(`roll split ${fx.ops.name} back`);
    }
    expect(await exists(fx.billing.database)).toBe(false);
  });

  it('a split that retires the source is refused while another split of it is applied for some services only', async () => {
    const fx = await wavesFixture({
      server: pg15(),
      edit: (doc, which) => {
        if (which === 'ops') (doc.source as Record<string, unknown>).retire = true;
        else {
          // billing in two services: invoices, then invoice_lines.
          const services = doc.services as Record<string, Record<string, unknown>>;
          const billing = services['billing-service']!;
          services['lines-service'] = { database: `${String(billing.database)}_lines`, tables: ['invoice_lines'] };
          billing.tables = ['invoices'];
        }
      },
    });
    fixtures.push(fx);
    const part = await fx.billing.cli('apply', '--yes', '--service', 'billing-service');
    expect(part.code, part.stderr).toBe(0);
    for (const args of [['plan'], ['apply', '--yes']]) {
      const r = await fx.ops.cli(args[0]!, ...args.slice(1));
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toContain(`split ${fx.ops.name} retires the source, but split ${fx.billing.name} (1 fenced table without its backup mark, e.g. public.invoices) is applied only in part`);
    }
    expect(await exists(fx.ops.database)).toBe(false);
    // billing finished: the source may be retired.
    const rest = await fx.billing.cli('apply', '--yes');
    expect(rest.code, rest.stderr).toBe(0);
    const ops = await fx.ops.cli('apply', '--yes');
    expect(ops.code, ops.stderr).toBe(0);
  });

  it('a split that retires the source is refused while another split of it stopped before its fence (plan, apply, and a plan file made before)', async () => {
    const fx = await wavesFixture({ server: pg15(), edit: (doc, which) => void (which === 'ops' && ((doc.source as Record<string, unknown>).retire = true)) });
    fixtures.push(fx);
    const opsPlan = join(fx.dir, 'ops.plan.json');
    expect((await fx.ops.cli('plan', '-o', opsPlan)).code).toBe(0);
    const billingPlan = join(fx.dir, 'billing.plan.json');
    expect((await fx.billing.cli('plan', '-o', billingPlan)).code).toBe(0);
    const fenceStep = await stepOf(billingPlan, 'fence_source');
    // billing's apply is killed (kill -9) right before its fence: started, nothing fenced.
    const paused = await pausedBefore({ ...fx, step: fenceStep, args: ['apply', billingPlan, '--yes', '-m', fx.billing.manifestFile], env: fx.env });
    paused.run.child.kill('SIGKILL');
    await paused.run.done;
    await paused.release();
    for (const args of [['plan'], ['apply', '--yes'], ['apply', opsPlan, '--yes']]) {
      const r = await fx.ops.cli(args[0]!, ...args.slice(1));
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toContain(`split ${fx.ops.name} retires the source, but split ${fx.billing.name} (4 tables not fenced yet, e.g. public.invoice_lines) has started moving and not finished`);
      expect(r.stderr).toContain('finish that split first (`cloudphone-split apply` with its manifest resumes it), or roll it back');
    }
    expect(await exists(fx.ops.database)).toBe(false);
    // billing resumed to its end: the source may be retired now.
    const rest = await fx.billing.cli('apply', '--yes');
    expect(rest.code, rest.stderr).toBe(0);
    const ops = await fx.ops.cli('apply', '--yes');
    expect(ops.code, ops.stderr).toBe(0);
  });

  it("the retiring split's prune keeps the database while a split journaled elsewhere keeps fenced tables in it", async () => {
    const fx = await wavesFixture({
      server: pg15(),
      edit: (doc, which) => {
        doc.retention = { days: 7, archive: 'backups' };
        if (which === 'ops') (doc.source as Record<string, unknown>).retire = true;
        // billing keeps its journal in a control database of its own: ops's journal knows nothing of it.
        else doc.control = { url: '${OTHER_CONTROL_URL}' };
      },
    });
    fixtures.push(fx);
    const other = `${fx.prefix}control_other`;
    fx.env.OTHER_CONTROL_URL = withDatabase(fx.sourceServer, other);
    try {
      const billing = await fx.billing.cli('apply', '--yes');
      expect(billing.code, billing.stderr).toBe(0);
      const ops = await fx.ops.cli('apply', '--yes');
      expect(ops.code, ops.stderr).toBe(0);
      expect((await fx.ops.cli('verify', '--checksums')).code).toBe(0);
      const later = new Date(Date.now() + 8 * DAY).toISOString();
      for (const args of [['retention', 'prune', '--now', later], ['retention', 'prune', '--yes', '--now', later]]) {
        const r = await fx.ops.cli(args[0]!, ...args.slice(1));
        expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(1);
        expect(r.stdout).toContain(`dropping the database would drop the tables other splits moved and fenced in it, which this journal keeps no backup of`);
        expect(r.stdout).toContain(`split ${fx.billing.name} (4 tables, e.g. public.invoice_lines)`);
      }
      expect(await exists(fx.sourceDb)).toBe(true);
    } finally {
      await query(pg15(), `DROP DATABASE IF EXISTS "${other}" WITH (FORCE)`);
    }
  });
});

describe('a split whose apply stopped at its preflight', () => {
  it('is no wave: another split may plan and apply the same tables', async () => {
    const fx = await wavesFixture({
      edit: (doc, which) => {
        if (which !== 'billing') return;
        // billing takes events too, which ops meant to move.
        const services = doc.services as Record<string, Record<string, unknown>>;
        services['billing-service']!.tables = ['invoices', 'invoice_lines', 'events'];
        doc.ignore = (doc.ignore as string[]).filter((t) => t !== 'events');
      },
    });
    fixtures.push(fx);
    // ops's database exists already, holding a table: its preflight refuses, nothing is created, fenced or copied.
    await query(fx.sourceServer, `CREATE DATABASE "${fx.ops.database}"`);
    await query(withDatabase(fx.sourceServer, fx.ops.database), `CREATE TABLE someone_elses (id int)`);
    const ops = await fx.ops.cli('apply', '--yes');
    expect(ops.code, ops.stdout + ops.stderr).not.toBe(0);
    expect(ops.stderr).toContain(fx.ops.database);
    const planned = await fx.billing.cli('plan', '--json');
    expect(planned.code, planned.stderr).toBe(0);
    expect((JSON.parse(planned.stdout) as { movedEarlier?: unknown[] }).movedEarlier ?? []).toEqual([]);
    const billing = await fx.billing.cli('apply', '--yes');
    expect(billing.code, billing.stderr).toBe(0);
    expect((await fx.billing.cli('verify', '--checksums')).code).toBe(0);
  });
});
