import { afterAll, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import { eventually } from './helpers/reverse.js';
import { keepServices, splitFixture, type SplitFixture } from './helpers/split-fixture.js';

const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

/**
 * A subscription whose worker keeps failing on one change (here a constraint made in the new
 * database; in the field, row-level security binding the tables' new owner) streams nothing
 * from then on, while apply had said replication runs. Fenced, the source would have refused
 * writes until catch_up gave up after two minutes.
 */
describe('replication that keeps failing to apply a change', () => {
  it('is shown by status, and cutover refuses to fence (exit 1, nothing changed) until it is fixed', async () => {
    const fx = await splitFixture({ source: servers().main, scale: 0.05, edit: (doc) => { keepServices(doc, ['user-service']); doc.mode = 'online'; } });
    fixtures.push(fx);
    const applied = await fx.cli('apply', '--yes');
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    const user = fx.service('user');
    await query(user.url, `ALTER TABLE users ADD CONSTRAINT refuses_new CHECK (username <> 'refused') NOT VALID`);
    await query(fx.sourceUrl, `INSERT INTO users (tenant_id, username, email, password_hash) SELECT tenant_id, 'refused', 'refused@example.com', 'x' FROM users LIMIT 1`);
    const failures = async () => (await query<{ n: number }>(user.url, `SELECT (apply_error_count)::int AS n FROM pg_stat_subscription_stats`))[0]?.n ?? 0;
    await eventually('the subscription fails on the change', async () => (await failures()) > 0);

    const status = await fx.cli('status');
    expect(status.stdout).toMatch(/user-service +\S+.* failed appl(y|ies) \(the log of server source says why\)/);
    const cut = await fx.cli('cutover', '--yes');
    expect(cut.code, cut.stderr + cut.stdout).toBe(1);
    expect(cut.stderr).toMatch(new RegExp(`not cutting over: replication into ${user.database} \\(subscription \\S+, \\d+ failed applies\\) keeps failing`));
    expect(cut.stderr).toContain('nothing was changed');
    expect(await query(fx.sourceUrl, `SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = 'cloudphone_split_fence'`)).toEqual([{ n: 0 }]);

    // Fixed in the new database: the change goes through, and cutover ends the split.
    await query(user.url, `ALTER TABLE users DROP CONSTRAINT refuses_new`);
    await eventually('the change arrives', async () => (await query(user.url, `SELECT 1 FROM users WHERE username = 'refused'`)).length === 1);
    const again = await fx.cli('cutover', '--yes');
    expect(again.code, again.stderr + again.stdout).toBe(0);
  });
});
