import { readFile, writeFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { sharedSampleTemplate } from './helpers/shared-sample.js';
import { assertBuilt, runSpawned } from './helpers/cli.js';
import { SplitWatch } from './helpers/crash.js';
import { dropAll, killAtPause } from './helpers/crash-case.js';
import { stepId } from '../../src/steps/ids.js';
import type { Plan } from '../../src/plan/model.js';
import { planHash } from '../../src/engine/plan-hash.js';

/**
 * An online `apply -m` killed once replication runs, then the same command again: it
 * resumes the run with the run's own plan. Planning afresh saw the run's own replication
 * roles as roles that use the tables, made another plan, was refused as "a different
 * plan", and overwrote the plan file the refusal told to rerun with.
 */
const fixtures: SplitFixture[] = [];
let template: string;

beforeAll(async () => {
  assertBuilt();
  template = await sharedSampleTemplate(servers().main, 0.3);
});
afterAll(async () => dropAll(fixtures));

describe('online apply -m killed with SIGKILL after replication started, then the same command again', () => {
  it('resumes the run with its own plan, keeps that plan file, and cuts over verified', async () => {
    const fx = await splitFixture({ template, withConfig: true, edit: (doc) => void (doc.mode = 'online') });
    fixtures.push(fx);
    // A service without a role of its own gives CONNECT to the roles that use its tables in the source.
    const doc = parse(await readFile(fx.manifestFile, 'utf8')) as { services: Record<string, Record<string, unknown>> };
    delete doc.services['user-service']!.role;
    await writeFile(fx.manifestFile, stringify(doc, { lineWidth: 0 }));
    await query(fx.sourceUrl, `ALTER TABLE user_login_history REPLICA IDENTITY FULL`);
    const command = ['apply', '-m', fx.manifestFile, '--yes', '--jobs', '2'];
    // The journal's database, made ahead so that the test can watch the run from its start.
    await query(fx.sourceServer, `CREATE DATABASE "${fx.controlUrl.split('/').pop()}"`);
    const watch = await SplitWatch.open(fx);
    try {
      await killAtPause(fx, watch, 'after', fx.services.map((s) => stepId('start_replication', s.database)), { args: command });
    } finally {
      await watch.close();
    }
    // The split's replication roles now exist and hold SELECT on the published tables.
    const [roles] = await query<{ n: number }>(fx.sourceServer, `SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE 'cps\\_%\\_r'`);
    expect(roles!.n).toBeGreaterThan(0);

    // status tells a run whose process is gone from one that runs: no session holds the split's lock.
    const dead = await runSpawned(['status', '-m', fx.manifestFile, '--json'], fx.env);
    expect(dead.code, dead.stderr).toBe(0);
    expect(JSON.parse(dead.stdout)).toMatchObject({ abandoned: true, runs: [{ state: 'running' }] });
    const deadText = await runSpawned(['status', '-m', fx.manifestFile, '--no-color'], fx.env);
    expect(deadText.stdout).toContain('no process runs it any more (killed, or it lost its connection): run the same command again to resume where it stopped');

    const again = await runSpawned(command, fx.env);
    expect(again.code, `${again.stderr}\n${again.stdout}`).toBe(0);
    const [run] = await query<{ plan: Plan; runs: number }>(
      fx.controlUrl,
      `SELECT plan, (SELECT count(*)::int FROM cloudphone_split.runs) AS runs FROM cloudphone_split.runs ORDER BY id DESC LIMIT 1`,
    );
    expect(run!.runs, 'one run, resumed').toBe(1);
    const file = JSON.parse(await readFile(join(fx.dir, `${fx.name}.plan.json`), 'utf8')) as Plan;
    expect(planHash(file), 'the plan file is the run\'s plan').toBe(planHash(run!.plan));
    // Planning again now leaves the split's own roles out: the same plan as the run's.
    const replanned = await runSpawned(['plan', '-m', fx.manifestFile, '-o', join(fx.dir, 'again.plan.json')], fx.env);
    expect(replanned.code, replanned.stderr).toBe(0);
    expect((JSON.parse(await readFile(join(fx.dir, 'again.plan.json'), 'utf8')) as Plan).warnings.join('\n')).not.toMatch(/cps_\w+_r/);

    expect(JSON.parse((await runSpawned(['status', '-m', fx.manifestFile, '--json'], fx.env)).stdout)).not.toHaveProperty('abandoned');
    const cut = await runSpawned(['cutover', '-m', fx.manifestFile, '--yes'], fx.env);
    expect(cut.code, `${cut.stderr}\n${cut.stdout}`).toBe(0);
    const verified = await runSpawned(['verify', '-m', fx.manifestFile, '--checksums'], fx.env);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  });
});
