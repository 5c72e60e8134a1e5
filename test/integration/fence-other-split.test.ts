import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { query } from '../harness/servers.js';
import { pausedBefore, stepOf } from './helpers/paused-run.js';
import { fenceSql } from '../../src/steps/fence-source.js';
import { opsAlsoMovesInvoices, wavesFixture, writeError, type WavesFixture } from './helpers/waves-fixture.js';

const fixtures: WavesFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

describe('a table fenced by another split while this split applies', () => {
  it('fails this fence naming the other split (a table is never moved twice), and this split\'s rollback leaves that fence alone', async () => {
    // ops moves invoices too; another split (journaled elsewhere: only its fence tells) moves invoices while ops applies.
    const fx = await wavesFixture({ edit: opsAlsoMovesInvoices });
    fixtures.push(fx);
    const opsPlan = join(fx.dir, 'ops.plan.json');
    const planned = await fx.ops.cli('plan', '-o', opsPlan);
    expect(planned.code, planned.stderr).toBe(0);
    const fenceStep = await stepOf(opsPlan, 'fence_source');

    // ops's apply has passed its checks (nobody moved invoices yet) and waits right before its fence...
    const paused = await pausedBefore({ ...fx, step: fenceStep, args: ['apply', opsPlan, '--yes', '-m', fx.ops.manifestFile], env: fx.env });
    try {
      // ...while the other split fences invoices.
      await query(fx.sourceUrl, `BEGIN; ${fenceSql('elsewhere', [{ table: 'public.invoices', database: 'elsewhere_db' }]).join(';\n')}; COMMIT`);
    } finally {
      await paused.release();
    }
    const ended = await paused.run.done;
    expect(ended.code, ended.stdout + ended.stderr).toBe(3);
    expect(ended.stderr).toContain('table public.invoices was moved by split elsewhere meanwhile (its fence is on it), and a table is never moved twice: roll this split back (cloudphone-split rollback)');
    // Nothing of ops's fence went up (events takes writes); the other split's fence is the one on invoices.
    expect(await writeError(fx.sourceUrl, `INSERT INTO events (kind) VALUES ('x')`)).toBeNull();
    const otherFence = /table public\.invoices has moved to database elsewhere_db: .*split elsewhere\)/;
    expect(await writeError(fx.sourceUrl, `INSERT INTO invoices (account_id, total) VALUES (1, 1)`)).toMatch(otherFence);

    // ops's rollback (its journal recorded a fence on invoices before the fence failed) leaves the other split's alone.
    const back = await fx.ops.cli('rollback', '--yes');
    expect(back.code, back.stderr + back.stdout).toBe(0);
    expect(await writeError(fx.sourceUrl, `INSERT INTO invoices (account_id, total) VALUES (1, 1)`)).toMatch(otherFence);
    expect(await query(fx.sourceUrl, `SELECT tgname FROM pg_trigger WHERE tgrelid = 'public.invoices'::regclass AND NOT tgisinternal`)).toEqual([{ tgname: 'cloudphone_split_fence' }]);
  });
});
