import { afterAll, describe, expect, it } from 'vitest';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { query, second, servers } from '../harness/servers.js';
import { runCli } from './helpers/cli.js';
import { pausedBefore, stepOf } from './helpers/paused-run.js';
import { wavesFixture, type WavesFixture } from './helpers/waves-fixture.js';
import { keepServices, splitFixture, type SplitFixture } from './helpers/split-fixture.js';

const fixtures: Array<WavesFixture | SplitFixture> = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

describe('an apply resumed with another password for a role it created', () => {
  it('is refused before anything changes (the role keeps the first one), and goes on with the first password', async () => {
    const fx = await wavesFixture();
    fixtures.push(fx);
    const planFile = join(fx.dir, 'ops.plan.json');
    expect((await fx.ops.cli('plan', '-o', planFile)).code).toBe(0);
    const next = await stepOf(planFile, 'create_database');
    // Killed (kill -9) once its role exists, right before its database is made.
    const paused = await pausedBefore({ ...fx, step: next, args: ['apply', planFile, '--yes', '-m', fx.ops.manifestFile], env: fx.env });
    paused.run.child.kill('SIGKILL');
    await paused.run.done;
    await paused.release();
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

describe('an apply resumed with a password a target server rejects', () => {
  it('is refused (exit 2) before anything changes, naming the server and the key its URL comes from; the right one resumes', async () => {
    const fx = await splitFixture({ source: servers().main, targets: second(), scale: 0.05, edit: (doc) => keepServices(doc, ['user-service']) });
    fixtures.push(fx);
    await fx.plan();
    const wrong = new URL(fx.env.TARGET_PG_URL!);
    wrong.password = 'Wrong-Secret-77';
    // A first run: refused the same way (it failed its preflight as a step, exit 3), and no run is journaled.
    const first = await runCli(['apply', fx.planFile, '--yes', '-m', fx.manifestFile], { ...fx.env, TARGET_PG_URL: wrong.toString() });
    expect(first.code, first.stdout + first.stderr).toBe(2);
    expect(first.stderr).toMatch(/the "target" server at \S+ rejected user "\*\*\*": password authentication failed[^\n]*; nothing was changed/);
    expect(await query(fx.controlUrl, `SELECT count(*)::int AS n FROM cloudphone_split.runs`).catch(() => [{ n: 0 }])).toEqual([{ n: 0 }]);
    const copy = await stepOf(fx.planFile, 'copy_data');
    // Killed (kill -9) after its preflight, with the source fenced, right before its first copy.
    const paused = await pausedBefore({ ...fx, step: copy, args: ['apply', fx.planFile, '--yes', '-m', fx.manifestFile], env: fx.env });
    paused.run.child.kill('SIGKILL');
    await paused.run.done;
    await paused.release();
    // verify of the half-made split says to resume, not that 100 things differ and to roll back (Synapse's probe).
    const early = await fx.cli('verify');
    expect(early.code, early.stdout + early.stderr).toBe(3);
    expect(early.stderr).toMatch(/its apply did not finish \(run \S+ stopped, and no process runs it any more; \d+ of \d+ steps done\): the new databases are half made, so nothing was checked/);
    expect(early.stderr).toContain('fix: rerun `cloudphone-split apply` to resume where it stopped, then verify');
    const doneSteps = `SELECT string_agg(s::text, '' ORDER BY s::text) AS t FROM cloudphone_split.steps s`;
    const before = await query(fx.controlUrl, doneSteps);

    const refused = await runCli(['apply', fx.planFile, '--yes', '-m', fx.manifestFile], { ...fx.env, TARGET_PG_URL: wrong.toString() });
    expect(refused.code, refused.stdout + refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/the "target" server at \S+ rejected user "\*\*\*": password authentication failed[^\n]*; the run resumes after its preflight, and nothing was changed/);
    expect(refused.stderr).toContain('fix: check the user and password of servers.target (${TARGET_PG_URL}), then run apply again');
    expect(refused.stdout + refused.stderr).not.toContain('Wrong-Secret-77');
    expect(await query(fx.controlUrl, doneSteps)).toEqual(before);

    const resumed = await fx.cli('apply', fx.planFile, '--yes');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((await fx.cli('verify')).code).toBe(0);
  });
});
