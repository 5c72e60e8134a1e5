import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import { CLI_BIN, assertBuilt } from './helpers/cli.js';
import { keepServices, splitFixture, type SplitFixture } from './helpers/split-fixture.js';

const run = promisify(execFile);
const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

/**
 * `apply … | head -1` (or `| grep -q`): the reader closes the pipe at its first line.
 * The installed command stopped at its next line and exited 0, its source fenced and its
 * run abandoned; it now finishes the work and exits with the work's code.
 */
describe('an output pipe closed early', () => {
  it('ends what is printed, not the apply: the run finishes, every table arrives, and the exit code is the work\'s', async () => {
    assertBuilt();
    const fx = await splitFixture({ source: servers().main, scale: 0.05, edit: (doc) => keepServices(doc, ['user-service', 'device-service']) });
    fixtures.push(fx);
    const script = `set -o pipefail; "${process.execPath}" "${CLI_BIN}" apply --yes --jobs 2 -m "${fx.manifestFile}" 2>&1 | head -1 > /dev/null; echo "exit \${PIPESTATUS[0]}"`;
    const { stdout } = await run('bash', ['-c', script], { env: fx.env });
    expect(stdout.trim()).toBe('exit 0');
    const status = await fx.cli('status', '--json');
    expect((JSON.parse(status.stdout) as { runs: Array<{ state: string }> }).runs[0]!.state).toBe('succeeded');
    for (const svc of fx.services) {
      const [n] = await query<{ n: number }>(svc.url, `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`);
      expect(n!.n, svc.database).toBeGreaterThan(0);
    }
    const verified = await fx.cli('verify');
    expect(verified.code, verified.stdout).toBe(0);
    // A failing run keeps its code through the closed pipe: apply of a plan file that is not there (exit 2).
    const failing = `"${process.execPath}" "${CLI_BIN}" apply /nonexistent/plan.json --yes -m "${fx.manifestFile}" 2>&1 | head -c 1 > /dev/null; echo "exit \${PIPESTATUS[0]}"`;
    expect((await run('bash', ['-c', failing], { env: fx.env })).stdout.trim()).toBe('exit 2');
  });
});
