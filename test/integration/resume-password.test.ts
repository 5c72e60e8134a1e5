import { afterAll, describe, expect, it } from 'vitest';
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { query } from '../harness/servers.js';
import { runCli, spawnCli } from './helpers/cli.js';
import { PAUSE_LOCK_SPACE, TEST_PAUSE_ENV } from '../../src/engine/test-pause.js';
import { wavesFixture, type WavesFixture } from './helpers/waves-fixture.js';

const fixtures: WavesFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

describe('an apply resumed with another password for a role it created', () => {
  it('is refused before anything changes (the role keeps the first one), and goes on with the first password', async () => {
    const fx = await wavesFixture();
    fixtures.push(fx);
    const planFile = join(fx.dir, 'ops.plan.json');
    expect((await fx.ops.cli('plan', '-o', planFile)).code).toBe(0);
    const steps = (JSON.parse(await readFile(planFile, 'utf8')) as { steps: Array<{ id: string; kind: string }> }).steps;
    const next = steps.find((s) => s.kind === 'create_database')!.id;
    // Killed (kill -9) once its role exists, right before its database is made.
    const holder = new pg.Client({ connectionString: fx.sourceUrl });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1, hashtext($2))', [PAUSE_LOCK_SPACE, next]);
      const run = spawnCli(['apply', planFile, '--yes', '-m', fx.ops.manifestFile], { ...fx.env, [TEST_PAUSE_ENV]: `before:${next}` });
      await expect
        .poll(async () => (await query<{ n: number }>(fx.sourceServer, `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = $1::int::oid`, [PAUSE_LOCK_SPACE]))[0]!.n, { timeout: 30_000, interval: 50 })
        .toBe(1);
      run.child.kill('SIGKILL');
      await run.done;
    } finally {
      await holder.end();
    }
    expect(await query(fx.sourceServer, `SELECT 1 FROM pg_roles WHERE rolname = $1`, [fx.ops.role])).toHaveLength(1);

    const changed = await runCli(['apply', planFile, '--yes', '-m', fx.ops.manifestFile], { ...fx.env, OPS_PW: 'another-password' });
    expect(changed.code, changed.stdout + changed.stderr).toBe(2);
    expect(changed.stderr).toContain(`the run resumes after creating this role, and its password is no longer the one the manifest's variable holds: ${fx.ops.role} (on server "source", password \${OPS_PW}); nothing was changed`);
    expect(changed.stderr).not.toContain('another-password');
    expect(await query(fx.sourceServer, `SELECT 1 FROM pg_database WHERE datname = $1`, [fx.ops.database])).toHaveLength(0);

    // The manifest edited since the plan was made: the plan is what runs, and that is said.
    await appendFile(fx.ops.manifestFile, '# edited after the plan\n');
    const resumed = await fx.ops.cli('apply', planFile, '--yes');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`warning: ${fx.ops.manifestFile} changed since this plan was made; apply runs the plan as it was reviewed (the manifest as it was then): make a new plan (cloudphone-split plan) to apply the changes`);
    const verified = await fx.ops.cli('verify');
    expect(verified.code, verified.stdout).toBe(0);
  });
});
