import { afterAll, describe, expect, it } from 'vitest';
import { servers } from '../harness/servers.js';
import { SPLIT_ENV } from '../../src/plan/copy-ranges.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';

/** `--split-tables-larger-than` on plan and apply: the same as the environment variable, and it wins over it. */
const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

describe('--split-tables-larger-than', () => {
  it('splits the copies of larger tables into key ranges, over the environment variable; bad sizes and plan files are refused (exit 2)', async () => {
    const fx = await splitFixture({ source: servers().main, scale: 0.3 });
    fixtures.push(fx);
    fx.env[SPLIT_ENV] = 'off';
    const whole = await fx.cli('plan', '-o', fx.planFile, '--json');
    expect(whole.code, whole.stderr).toBe(0);
    const rangesOf = (stdout: string) => (JSON.parse(stdout) as { steps: Array<{ kind: string; id: string }> }).steps.filter((s) => s.kind === 'copy_data' && /#\d+$|range/.test(s.id));
    expect(rangesOf(whole.stdout)).toEqual([]);

    const split = await fx.cli('plan', '-o', fx.planFile, '--json', '--split-tables-larger-than', '64kB');
    expect(split.code, split.stderr).toBe(0);
    const plan = await fx.readPlan();
    const ranged = plan.steps.filter((s) => s.kind === 'copy_data' && s.range !== null);
    expect(ranged.length).toBeGreaterThan(1);
    expect(new Set(ranged.map((s) => (s.kind === 'copy_data' ? s.range?.of : 0)))).not.toContain(1);

    const bad = await fx.cli('plan', '-o', fx.planFile, '--split-tables-larger-than', 'huge');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--split-tables-larger-than takes a size such as 512MB');

    const withFile = await fx.cli('apply', fx.planFile, '--dry-run', '--split-tables-larger-than', '1MB');
    expect(withFile.code).toBe(2);
    expect(withFile.stderr).toContain('a plan file already fixes it');
  });
});
