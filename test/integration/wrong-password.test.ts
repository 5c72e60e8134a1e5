import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { query } from '../harness/servers.js';
import { runCli } from './helpers/cli.js';
import { wavesFixture, type WavesFixture } from './helpers/waves-fixture.js';

const fixtures: WavesFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

const wrong = (url: string): string => {
  const u = new URL(url);
  u.password = 'definitely-wrong';
  return u.toString();
};

describe('a password a server rejects, once a split exists', () => {
  it('apply and verify say which server rejected the login and exit 2 (nothing to retry, no difference found)', async () => {
    const fx = await wavesFixture();
    fixtures.push(fx);
    const planFile = join(fx.dir, 'ops.plan.json');
    expect((await fx.ops.cli('plan', '-o', planFile)).code).toBe(0);
    // Before the split: apply of the plan file with the source's password wrong changes nothing, exit 2.
    const a = await runCli(['apply', planFile, '--yes', '-m', fx.ops.manifestFile], { ...fx.env, CORE_URL: wrong(fx.env.CORE_URL!) });
    expect(a.code, a.stderr).toBe(2);
    expect(a.stderr).toMatch(/the source server at postgres:\/\/\*\*\*:\*\*\*@[^ ]+ rejected user "\*\*\*": password authentication failed/);
    expect(await query(fx.sourceServer, `SELECT 1 FROM pg_database WHERE datname = $1`, [fx.ops.database])).toHaveLength(0);
    const applied = await fx.ops.cli('apply', '--yes');
    expect(applied.code, applied.stderr).toBe(0);
    const runs = async () => (await query<{ n: number }>(fx.env.CONTROL_URL!, `SELECT count(*)::int AS n FROM cloudphone_split.runs`))[0]!.n;
    const before = await runs();

    // The journal's server (control.url) rejects it: apply of the plan file, and verify.
    const control = { ...fx.env, CONTROL_URL: wrong(fx.env.CONTROL_URL!) };
    for (const args of [['apply', planFile, '--yes'], ['verify']]) {
      const r = await runCli([args[0]!, '-m', fx.ops.manifestFile, ...args.slice(1)], control);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      // The test servers' user is "postgres", masked with its password.
      expect(r.stderr).toMatch(/error: the control server at postgres:\/\/\*\*\*:\*\*\*@[^ ]+ rejected user "\*\*\*": password authentication failed/);
      expect(r.stderr).toContain('fix: check the user and password in the URL (or the variable it comes from)');
      expect(r.stderr).not.toContain('definitely-wrong');
    }

    // The source's (and here the target's) server rejects it: verify says so once, instead of a failed check per table.
    const source = { ...fx.env, CORE_URL: wrong(fx.env.CORE_URL!) };
    const v = await runCli(['verify', '--checksums', '-m', fx.ops.manifestFile, '--json'], source);
    expect(v.code, v.stdout + v.stderr).toBe(2);
    expect(v.stderr).toMatch(/the (source|"source" target) server at postgres:\/\/\*\*\*:\*\*\*@[^ ]+ rejected user "\*\*\*": password authentication failed/);
    expect(v.stdout).not.toContain('"checks"');
    expect(await runs()).toBe(before);
    const fine = await fx.ops.cli('verify', '--checksums');
    expect(fine.code, fine.stdout).toBe(0);
  });
});
