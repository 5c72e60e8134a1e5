import { afterAll, describe, expect, it } from 'vitest';
import { query } from '../harness/servers.js';
import type { Plan, StartReplicationStep } from '../../src/plan/model.js';
import { writePlanFile } from '../../src/plan/plan-file.js';
import { replicationRoleName } from '../../src/online/replication-role.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';

/**
 * Plans made before the `release_replication` step existed have none: their
 * `stop_replication` drops the source's slot, publication and replication role itself,
 * as it did then. A plan written by an older version still cuts over with nothing of the
 * forward replication left on the source.
 */
const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

describe('online mode: a plan without release_replication (made by an older version)', () => {
  it('cutover still drops the source slot, publication and role of every forward replication', async () => {
    const fx = await splitFixture({ scale: 0.05, edit: (doc) => void (doc.mode = 'online') });
    fixtures.push(fx);
    await query(fx.sourceUrl, `ALTER TABLE user_login_history REPLICA IDENTITY FULL`);
    const current = await fx.plan();
    const released = new Set(current.steps.filter((s) => s.kind === 'release_replication').map((s) => s.id));
    expect(released.size).toBeGreaterThan(0);
    const old: Plan = {
      ...current,
      steps: current.steps.filter((s) => !released.has(s.id)).map((s) => ({ ...s, dependsOn: s.dependsOn.filter((d) => !released.has(d)) })),
    };
    await writePlanFile(fx.planFile, old);
    const forward = old.steps.filter((s): s is StartReplicationStep => s.kind === 'start_replication');
    expect(forward.length).toBeGreaterThan(0);

    const applied = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    // While replicating, the source holds a slot, a publication and a role per target.
    const slots = () => query<{ slot_name: string }>(fx.sourceServer, `SELECT slot_name FROM pg_replication_slots WHERE database = $1 ORDER BY 1`, [fx.sourceDb]);
    const publications = () => query<{ pubname: string }>(fx.sourceUrl, `SELECT pubname FROM pg_publication ORDER BY 1`);
    const roles = () =>
      query<{ rolname: string }>(fx.sourceServer, `SELECT rolname FROM pg_roles WHERE rolname = ANY ($1::text[])`, [forward.map((s) => replicationRoleName(s.publication))]);
    expect((await slots()).map((r) => r.slot_name)).toEqual(expect.arrayContaining(forward.map((s) => s.slot)));
    expect(await publications()).toHaveLength(forward.length);
    expect(await roles()).toHaveLength(forward.length);

    const cut = await fx.cli('cutover', '--yes', '--json');
    expect(cut.code, cut.stderr).toBe(0);
    const kinds = (JSON.parse(cut.stdout) as { steps: Array<{ kind: string }> }).steps.map((s) => s.kind);
    expect(kinds).toContain('stop_replication');
    expect(kinds).not.toContain('release_replication');
    // Reverse replication runs now (its publications and slots live on the targets): nothing forward is left on the source.
    expect(await slots()).toEqual([]);
    expect(await publications()).toEqual([]);
    expect(await roles()).toEqual([]);

    const completed = await fx.cli('cutover', '--complete', '--yes');
    expect(completed.code, completed.stderr).toBe(0);
    const verified = await fx.cli('verify', '--checksums');
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  });
});
