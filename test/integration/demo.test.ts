import { describe, expect, it } from 'vitest';
import { assertBuilt, runSpawned } from './helpers/cli.js';

/**
 * The README's first command: `npx cloudphone-split demo` runs the whole story on its own
 * embedded PostgreSQL, with no setup, and exits 0. Run here as a user runs it: the built CLI.
 */
describe('demo', () => {
  it('plans, applies and verifies the sample split on its own server, exit 0', async () => {
    assertBuilt();
    const r = await runSpawned(['demo', '--scale', '0.3'], { ...process.env, NO_COLOR: '1' });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/verify: all \d+ checks passed/);
    expect(r.stdout).toContain('6 databases created');
    expect(r.stdout).toMatch(/config files repointed/);
    expect(r.stdout).toContain('fenced, read-only, kept as a backup');
  });

  it('--dry-run prints the statements and the config diffs, exit 0', async () => {
    assertBuilt();
    const r = await runSpawned(['demo', '--dry-run', '--scale', '0.1'], { ...process.env, NO_COLOR: '1' });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/CREATE DATABASE/);
    expect(r.stdout).toMatch(/^\s*--- services\/api-gateway\/\.env$/m);
    expect(r.stdout).toMatch(/^\s*@@ -\d+,\d+ \+\d+,\d+ @@$/m);
  });
});
