import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { second, servers } from '../harness/servers.js';
import { REPO_ROOT } from './helpers/cli.js';

/** Runs test/fixtures/servers/ with the integration harness and these server variables. */
function nested(env: Record<string, string>): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', 'test/fixtures/servers/vitest.config.ts'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, PG_TEST_URL_2: '', NO_COLOR: '1', ...env },
    timeout: 120_000,
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

describe('the test harness with servers of one own', () => {
  it('PG_TEST_URL alone: the two-server tests fail saying so, and a PG15_TEST_URL that is an 18 is refused', () => {
    const s = servers();
    const r = nested({ PG_TEST_URL: s.main, PG15_TEST_URL: s.main });
    expect(r.out).toMatch(/!!! PG_TEST_URL is set without PG_TEST_URL_2/);
    expect(r.out).toMatch(/!!! PG15_TEST_URL points at PostgreSQL 18/);
    expect(r.out, r.out).toMatch(/2 passed/);
    expect(r.status, r.out).toBe(0);
  });

  it('PG_TEST_URL_2 naming the same server as PG_TEST_URL is no second server', () => {
    const s = servers();
    // Another URL of the same cluster: same server, other database name.
    const sameServer = new URL(s.main);
    sameServer.pathname = '/template1';
    const r = nested({ PG_TEST_URL: s.main, PG_TEST_URL_2: sameServer.toString(), PG15_TEST_URL: second(), EXPECT_SECOND: 'same server' });
    expect(r.out).toMatch(/!!! PG_TEST_URL_2 points at the same server as PG_TEST_URL/);
    expect(r.out, r.out).toMatch(/2 passed/);
    expect(r.status, r.out).toBe(0);
  });
});
