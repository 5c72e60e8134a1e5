import { afterAll, describe, expect, it } from 'vitest';
import { query } from '../harness/servers.js';
import type { Plan, StartReplicationStep, StartReverseReplicationStep } from '../../src/plan/model.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { assertBuilt, runCli, spawnCli } from './helpers/cli.js';

/**
 * `status --watch` on an online split (SPEC §2): while replication runs it shows the
 * lag of every subscription, and after cutover the reverse replication's lag of every
 * service database; it keeps redrawing while replication runs (a long-running command:
 * read until the lines appear, then stop it).
 */

const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

const SLOW = 300_000;

/**
 * Runs `status --watch 1` until `done(stdout)` holds and at least `frames` frames were drawn,
 * then stops it. A frame reads the journal, the source and every subscription: one a second
 * (not five) is enough to see it redraw.
 */
async function watchUntil(fx: SplitFixture, frames: number, marker: string, done: (stdout: string) => boolean): Promise<string> {
  const watching = spawnCli(['status', '--watch', '1', '-m', fx.manifestFile], { ...fx.env, NO_COLOR: '1' });
  let exited = false;
  void watching.done.then(() => (exited = true));
  try {
    for (let i = 0; i < 600; i++) {
      const out = watching.output().stdout;
      if (out.split(marker).length - 1 >= frames && done(out)) return out;
      if (exited) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const { stdout, stderr } = watching.output();
    throw new Error(`status --watch ${exited ? 'ended' : 'never showed it'}:\n${stdout}\n${stderr}`);
  } finally {
    watching.child.kill('SIGTERM');
    await watching.done;
  }
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('status --watch, online mode', () => {
  it('shows the lag of every subscription while replicating, and the reverse replication\'s lag after cutover, and keeps watching', { timeout: SLOW }, async () => {
    assertBuilt();
    // What status shows is not about the sample's size: a small one replicates the same subscriptions.
    const fx = await splitFixture({ scale: 0.05, withConfig: true, edit: (doc) => void (doc.mode = 'online') });
    fixtures.push(fx);
    await query(fx.sourceUrl, `ALTER TABLE user_login_history REPLICA IDENTITY FULL`);
    const plan: Plan = await fx.plan();
    // apply and cutover run in this process; only the watch, which the test stops, has a process of its own.
    const applied = await runCli(['apply', fx.planFile, '--yes', '--jobs', '2'], fx.env);
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);

    // Between apply and cutover no run is running: the watch goes on because replication does.
    const forward = plan.steps.filter((s): s is StartReplicationStep => s.kind === 'start_replication');
    expect(forward.length).toBeGreaterThan(1);
    const before = await watchUntil(fx, 2, 'replication (online mode)', (out) =>
      forward.every((s) => new RegExp(`${escape(s.target.service)} +streaming, [^,]+ behind +slot ${escape(s.slot)}`).test(out)),
    );
    expect(before).not.toContain('reverse replication');

    const cut = await runCli(['cutover', '-m', fx.manifestFile, '--yes'], fx.env);
    expect(cut.code, cut.stderr + cut.stdout).toBe(0);
    const reverse = plan.steps.filter((s): s is StartReverseReplicationStep => s.kind === 'start_reverse_replication');
    expect(reverse.length).toBeGreaterThan(1);
    const after = await watchUntil(fx, 2, 'reverse replication (after cutover', (out) =>
      reverse.every((s) => new RegExp(`${escape(s.target.service)} +streaming, [^,]+ behind +slot ${escape(s.slot)} on ${escape(s.target.database)}`).test(out)),
    );
    // The forward subscriptions are gone: their lines give way to the reverse ones (from one reverse section to the next: a whole frame).
    const header = 'reverse replication (after cutover';
    const last = after.lastIndexOf(header);
    const lastFrame = after.slice(after.lastIndexOf(header, last - 1), last);
    expect(lastFrame).toContain('steps done');
    for (const s of forward) expect(lastFrame).not.toContain(`slot ${s.slot}`);
  });
});
