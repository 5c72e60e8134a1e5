import { afterAll, describe, expect, it } from 'vitest';
import { query } from '../harness/servers.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { eventually, expectNoReplicationAnywhere, sourceSubscriptions } from './helpers/reverse.js';

/**
 * An online split of a source that stays in use (`source.retire: false`) keeps its moved
 * tables in place as fenced backups, and reverse replication writes the services' rows
 * into them until it ends. `retention prune` ends it, records the tables' sums again (those
 * rows are the services' own), then drops them; a prune that refuses for a reason ending
 * it cannot change (a view over a kept table) refuses first and leaves the way back.
 */
const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

describe('online, source kept in use: retention prune after the services wrote', () => {
  it('refuses a view over a kept table before ending reverse replication, then drops the kept tables once it is gone', async () => {
    const fx = await splitFixture({
      scale: 0.05,
      edit: (doc) => {
        doc.mode = 'online';
        (doc.source as Record<string, unknown>).retire = false;
      },
    });
    fixtures.push(fx);
    await fx.plan();
    const applied = await fx.cli('apply', fx.planFile, '--yes');
    expect(applied.code, applied.stderr).toBe(0);
    const cut = await fx.cli('cutover', '--yes');
    expect(cut.code, cut.stderr + cut.stdout).toBe(0);
    // The service writes; reverse replication carries it into the kept table.
    const [row] = await query<{ id: string }>(fx.service('device').url, `INSERT INTO nodes (hostname, region, capacity) VALUES ('after-cutover', 'eu', 3) RETURNING id::text AS id`);
    await eventually('the write in the source', async () => (await query(fx.sourceUrl, `SELECT 1 FROM nodes WHERE id = $1`, [row!.id])).length === 1);
    const verified = await fx.cli('verify', '--checksums');
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const later = new Date(Date.now() + 400 * 86_400_000).toISOString();

    await query(fx.sourceUrl, `BEGIN READ WRITE; CREATE VIEW node_report AS SELECT count(*) AS n FROM nodes; COMMIT`);
    const refused = await fx.cli('retention', 'prune', '--yes', '--now', later);
    expect(refused.code, refused.stdout + refused.stderr).toBe(1);
    expect(refused.stdout).toContain('public.node_report');
    expect(refused.stderr).not.toContain('reverse replication ended');
    expect((await sourceSubscriptions(fx)).length).toBe(5);

    // The sample's own report over two services, left in the source, blocks the drop too.
    await query(fx.sourceUrl, `BEGIN READ WRITE; DROP VIEW node_report; DROP VIEW device_owner_summary; COMMIT`);
    const pruned = await fx.cli('retention', 'prune', '--yes', '--json', '--now', later);
    expect(pruned.code, pruned.stdout + pruned.stderr).toBe(0);
    expect(pruned.stderr).toMatch(/reverse replication ended for good before pruning/);
    expect((JSON.parse(pruned.stdout) as { backups: Array<{ action: string }> }).backups.map((b) => b.action)).toEqual(['dropped']);
    expect(await query(fx.sourceUrl, `SELECT to_regclass('public.nodes') AS t`)).toEqual([{ t: null }]);
    await expectNoReplicationAnywhere(fx);
  }, 300_000);
});
