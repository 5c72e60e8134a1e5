import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import type { Plan, Step } from '../../src/plan/model.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { sharedSampleTemplate } from './helpers/shared-sample.js';
import { CopyProgress, SplitWatch } from './helpers/crash.js';
import { assertBuilt, runSpawned, spawnCli, type CliResult } from './helpers/cli.js';
import { expectSameData } from './helpers/assert-split.js';
import { restartableServer, type RestartableServer } from './helpers/restartable-server.js';
import { CASE_TIMEOUT_MS, KILL_WAIT_MS, dropAll, inProcess } from './helpers/crash-case.js';

/**
 * A target server that goes away while a table is being copied: apply stops with
 * exit 3 ("rerun apply to resume"), and a rerun once the server is back finishes the
 * split with exactly the source's rows. The two cases (one on the shared server, one on a
 * server of its own) run at once.
 */

const SCALE = 5;
let template: string;
let dedicated: RestartableServer | undefined;
const fixtures: SplitFixture[] = [];

beforeAll(async () => {
  assertBuilt();
  [template, dedicated] = await Promise.all([sharedSampleTemplate(servers().main, SCALE), restartableServer()]);
});

afterAll(async () => {
  await dropAll(fixtures);
  await dedicated?.destroy();
});

type CopyStep = Extract<Step, { kind: 'copy_data' }>;

/** Starts apply and calls `cut` once the largest table's COPY has stored some rows; returns how apply ended. */
async function applyAndCutMidCopy(fx: SplitFixture, plan: Plan, cut: () => Promise<void>): Promise<CliResult> {
  const largest = plan.steps.find((s) => s.kind === 'copy_data') as CopyStep;
  const target = fx.services.find((s) => s.database === largest.target.database)!;
  await query(fx.sourceServer, `CREATE DATABASE "${fx.prefix}control"`);
  const watch = await SplitWatch.open(fx);
  const progress = new CopyProgress(target.url, largest.table!);
  const since = await watch.now();
  const cli = spawnCli(['apply', fx.planFile, '--yes', '--jobs', '2'], fx.env);
  let exited = false;
  void cli.done.then(() => (exited = true));
  try {
    const deadline = Date.now() + KILL_WAIT_MS;
    for (;;) {
      if (exited) throw new Error(`apply ended before the copy could be cut:\n${cli.output().stderr}`);
      if (Date.now() > deadline) throw new Error('the largest copy never started');
      const copying = (await watch.runningAmong([largest.id], since)).length > 0;
      if (copying && (await progress.rows()) > 1000) break;
      // Calm until the copy runs; then as often as the two kept connections answer.
      await sleep(copying ? 1 : 20);
    }
    await cut();
  } finally {
    await progress.close();
    await watch.close();
  }
  const end = await cli.done;
  return { code: end.code, stdout: end.stdout, stderr: end.stderr };
}

describe('a target server that goes away mid-copy', { concurrent: true, timeout: CASE_TIMEOUT_MS }, () => {
  it('its COPY backend terminated: exit 3, and a rerun finishes the split', async () => {
    // The cut races the end of the copy (a few MB): when the copy won, the attempt is
    // repeated on a fresh split, at most three times.
    let fx!: SplitFixture;
    let plan!: Plan;
    let largest!: CopyStep;
    let r!: CliResult;
    let terminated = 0;
    for (let attempt = 1; attempt <= 3 && terminated === 0; attempt++) {
      fx = await splitFixture({ template });
      fixtures.push(fx);
      plan = await inProcess(() => fx.plan());
      largest = plan.steps.find((s) => s.kind === 'copy_data') as CopyStep;
      r = await applyAndCutMidCopy(fx, plan, async () => {
        const rows = await query<{ ok: boolean }>(
          fx.sourceServer,
          `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
            WHERE datname = $1 AND starts_with(query, $2) AND state = 'active' AND backend_type = 'client backend'`,
          [largest.target.database, largest.copyIn.slice(0, largest.copyIn.indexOf(' ('))],
        );
        terminated = rows.filter((x) => x.ok).length;
      });
    }
    expect(terminated).toBeGreaterThan(0);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(`step copy_data:${largest.target.database}:${largest.table}`);
    expect(r.stderr).toContain(`lost the connection to database ${largest.target.database} on the source server`);
    expect(r.stderr).toContain('rerun `cloudphone-split apply` to resume');

    const again = await runSpawned(['apply', fx.planFile, '--yes', '--jobs', '2'], fx.env);
    expect(again.code, again.stderr).toBe(0);
    await expectSameData(fx, plan);
  });

  it('its server stopped: exit 3, exit 3 again while it is down, and a rerun once it is back finishes the split', async () => {
    const server = dedicated!;
    const fx = await splitFixture({ template, targets: server.url });
    fixtures.push(fx);
    const plan = await inProcess(() => fx.plan());
    const r = await applyAndCutMidCopy(fx, plan, () => server.stop());
    expect(r.code, r.stderr).toBe(3);
    // The step that reports it is the copy, or a step beside it (an index build, a new session) that lost the same server.
    expect(r.stderr).toMatch(new RegExp(`(lost the connection to|cannot reach) database ${fx.prefix}cloudphone_\\w+ on server "target" \\(127\\.0\\.0\\.1:\\d+\\) while (copying|running)`));
    expect(r.stderr).toContain('rerun `cloudphone-split apply` to resume');
    expect(r.stderr).not.toContain('postgres:postgres@');

    const down = await runSpawned(['apply', fx.planFile, '--yes', '--jobs', '2'], fx.env);
    expect(down.code, down.stderr).toBe(3);
    expect(down.stderr).toMatch(/cannot reach database \S+ on server "target" .*ECONNREFUSED/);
    expect(down.stderr).toContain('rerun `cloudphone-split apply` to resume');

    await server.start();
    const again = await runSpawned(['apply', fx.planFile, '--yes', '--jobs', '2'], fx.env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/already done/);
    await expectSameData(fx, plan);
  });
});
