import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { join } from 'node:path';
import { pausedBefore, stepOf } from './helpers/paused-run.js';
import { query, withDatabase } from '../harness/servers.js';
import { spawnCli } from './helpers/cli.js';
import { wavesFixture, type WavesFixture } from './helpers/waves-fixture.js';

const fixtures: WavesFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

/** Sessions of the tool in `database` waiting on a lock (its statement still running on the server). */
async function waiting(serverUrl: string, database: string): Promise<number> {
  const rows = await query<{ n: number }>(
    serverUrl,
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'cloudphone-split%' AND wait_event_type = 'Lock'`,
    [database],
  );
  return rows[0]!.n;
}

describe('verify stopped by a signal', () => {
  it('cancels the statements it runs on the servers (they would run on after it), records nothing, exits 3; for SIGINT and SIGTERM', async () => {
    const fx = await wavesFixture();
    fixtures.push(fx);
    const applied = await fx.ops.cli('apply', '--yes');
    expect(applied.code, applied.stderr).toBe(0);
    const targetUrl = withDatabase(fx.sourceServer, fx.ops.database);
    const controlUrl = fx.env.CONTROL_URL!;
    const recorded = async () => (await query<{ n: number }>(controlUrl, `SELECT count(*)::int AS n FROM cloudphone_split.verifications`))[0]!.n;
    const before = await recorded();

    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      // A session holding the target table: verify's statements on it wait on the server, as a long checksum would run.
      const holder = new pg.Client({ connectionString: targetUrl });
      await holder.connect();
      try {
        await holder.query(`BEGIN; LOCK TABLE public.events IN ACCESS EXCLUSIVE MODE`);
        const run = spawnCli(['verify', '--checksums', '-m', fx.ops.manifestFile], fx.env);
        let seen = 0;
        for (let i = 0; i < 300 && seen === 0; i++) {
          seen = await waiting(fx.sourceServer, fx.ops.database);
          if (seen === 0) await new Promise((r) => setTimeout(r, 50));
        }
        expect(seen, run.output().stderr).toBeGreaterThan(0);
        run.child.kill(signal);
        const ended = await run.done;
        expect(ended.code, ended.stderr + ended.stdout).toBe(3);
        expect(ended.stderr).toContain(`verify was stopped (${signal}) before it finished: its statements were cancelled on every server, and no verification was recorded`);
        expect(ended.stderr).toContain('run verify again');
        // Nothing of verify waits on the server any more, while the lock is still held.
        expect(await waiting(fx.sourceServer, fx.ops.database)).toBe(0);
        expect(await recorded()).toBe(before);
      } finally {
        await holder.query('ROLLBACK').catch(() => undefined);
        await holder.end();
      }
    }
    const done = await fx.ops.cli('verify', '--checksums');
    expect(done.code, done.stdout).toBe(0);
    expect(await recorded()).toBe(before + 1);
  });

  it('while an apply of the split runs, says so and checks nothing (exit 5), instead of reporting its half-made databases as differences', async () => {
    const fx = await wavesFixture();
    fixtures.push(fx);
    const planFile = join(fx.dir, 'ops.plan.json');
    expect((await fx.ops.cli('plan', '-o', planFile)).code).toBe(0);
    const copy = await stepOf(planFile, 'copy_data');
    const paused = await pausedBefore({ ...fx, step: copy, args: ['apply', planFile, '--yes', '-m', fx.ops.manifestFile], env: fx.env });
    try {
      const during = await fx.ops.cli('verify', '--checksums');
      expect(during.code, during.stdout + during.stderr).toBe(5);
      expect(during.stderr).toContain(`split ${fx.ops.name} is being applied now (backend pid `);
      expect(during.stderr).toContain('verify checks a split whose apply has finished, so nothing was checked');
      expect(during.stdout).toBe('');
    } finally {
      await paused.release();
    }
    const ended = await paused.run.done;
    expect(ended.code, ended.stderr).toBe(0);
    const after = await fx.ops.cli('verify', '--checksums');
    expect(after.code, after.stdout).toBe(0);
  });
});
