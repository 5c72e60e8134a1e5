import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { sharedSampleTemplate } from './helpers/shared-sample.js';
import { restartableServer, type RestartableServer } from './helpers/restartable-server.js';
import { inProcess } from './helpers/crash-case.js';
import { spawnCli } from './helpers/cli.js';
import { quietClient } from './helpers/quiet-client.js';

/**
 * PostgreSQL 15+ makes DROP DATABASE wait until every session of the server has absorbed
 * a signal barrier, which a session still authenticating does not: one client that went
 * quiet mid-handshake holds every drop of the server until authentication_timeout (60 s
 * by default) ends it. Rollback sat in that drop without a word. Now it says, after a few
 * seconds, what the drop waits for. The quiet client is held on a server of its own, so
 * the other test files' drops are not held.
 */

let template: string;
let dedicated: RestartableServer | undefined;
let fx: SplitFixture | undefined;

beforeAll(async () => {
  [template, dedicated] = await Promise.all([sharedSampleTemplate(servers().main, 0.3), restartableServer()]);
});

afterAll(async () => {
  await fx?.cleanup();
  await dedicated?.destroy();
});

describe('rollback whose DROP DATABASE waits for a session still authenticating', () => {
  it('says after a few seconds what the drop waits for, and finishes once that session is gone', async () => {
    fx = await splitFixture({ template, billing: dedicated!.url });
    const split = fx;
    await inProcess(() => split.plan());
    const applied = await split.cli('apply', split.planFile, '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr).toBe(0);
    const billing = split.service('billing');

    const quiet = await quietClient(dedicated!.url);
    const starting = await query(dedicated!.url, `SELECT 1 FROM pg_stat_activity WHERE backend_type = 'client backend' AND state = 'starting'`);
    expect(starting.length, 'the quiet client is a session still starting').toBe(1);

    const rollback = spawnCli(['rollback', '-m', split.manifestFile, '--yes'], split.env);
    let closed = false;
    try {
      const deadline = Date.now() + 50_000;
      while (!/still authenticating/.test(rollback.output().stderr + rollback.output().stdout)) {
        if (Date.now() > deadline) throw new Error(`no word about the waiting drop:\n${rollback.output().stdout}\n${rollback.output().stderr}`);
        await sleep(200);
      }
      const said = rollback.output().stderr + rollback.output().stdout;
      expect(said).toMatch(new RegExp(`DROP DATABASE ${billing.database} has waited \\d+ s`));
      expect(said).toMatch(/1 session is still authenticating on this server \(pid \d+ from 127\.0\.0\.1, \d+ s\): .*authentication_timeout \(1min\)/);
      quiet.destroy();
      closed = true;
    } finally {
      if (!closed) quiet.destroy();
    }
    const end = await rollback.done;
    expect(end.code, end.stdout + end.stderr).toBe(0);
    const left = await query(dedicated!.url, `SELECT datname FROM pg_database WHERE datname = $1`, [billing.database]);
    expect(left).toEqual([]);
    expect(end.stdout + end.stderr).not.toContain(billing.password);
  });
});
