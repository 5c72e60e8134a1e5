import { afterAll, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import { keepServices, splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { holdPauseLocks, pausedSteps } from './helpers/crash-case.js';
import { eventually } from './helpers/reverse.js';
import { spawnCli } from './helpers/cli.js';
import { TEST_PAUSE_ENV } from '../../src/engine/test-pause.js';

const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

/**
 * PostgreSQL's xml output, which every COPY uses (binary or text), drops a leading
 * `<?xml version="1.0"?>` (and `encoding="UTF-8"`) from the value it holds, where the value's
 * text keeps it. Copied plainly, such a value arrived changed and `verify --checksums`
 * failed on the split for good (AdventureWorks' `production.illustration.diagram`).
 */
describe('xml columns', () => {
  it('arrive with their stored text, declaration included, through a domain and in arrays, and verify passes', async () => {
    const fx = await splitFixture({ source: servers().main, scale: 0.05, edit: (doc) => keepServices(doc, ['user-service']) });
    fixtures.push(fx);
    await query(
      fx.sourceUrl,
      `CREATE DOMAIN diagram AS xml;
       ALTER TABLE users ADD COLUMN doc xml, ADD COLUMN drawing diagram, ADD COLUMN docs xml[], ADD COLUMN lapse interval, ADD COLUMN score float8;
       UPDATE users SET lapse = interval '-1 day -02:03:04' * id, score = id / 3.0::float8, created_at = timestamptz '2026-03-04 05:06:07.891+00' + id * interval '1 day';
       -- Large enough to be copied alone (not in a batch of small tables), in text format too for its xml column.
       ALTER TABLE user_login_history ADD COLUMN note xml, ADD COLUMN pad text;
       UPDATE user_login_history SET note = '<n/>', logged_in_at = timestamptz '2026-01-02 03:04:05.678+00' + user_id * interval '1 day',
         pad = (SELECT string_agg(md5(random()::text || g || user_id), '') FROM generate_series(1, 1500) g);
       UPDATE users SET doc = XMLPARSE(DOCUMENT '<?xml version="1.0"?>' || E'\\n' || '<a n="' || id || '"/>'),
                        drawing = '<?xml version="1.0" encoding="UTF-8"?><d/>',
                        docs = ARRAY['<?xml version="1.0"?><x/>'::xml, NULL, '<y/>']
        WHERE id % 2 = 0`,
    );
    const source = await query<{ id: number; doc: string | null; drawing: string | null; docs: string | null }>(
      fx.sourceUrl,
      `SELECT id, doc::text AS doc, drawing::text AS drawing, docs::text[]::text AS docs FROM users ORDER BY id`,
    );
    expect(source.some((r) => r.doc?.startsWith('<?xml version="1.0"?>\n'))).toBe(true);
    // A table with xml goes in text format: the source's sessions default to other text forms than the target's,
    // and the copy writes and reads under the same settings on both ends (a day-first date, a sign-shared interval,
    // a 15-digit float would arrive changed; verify --checksums below compares them exactly).
    const settings = [`DateStyle = 'SQL, DMY'`, `IntervalStyle = 'sql_standard'`, 'extra_float_digits = 0'];
    for (const set of settings) await query(fx.sourceServer, `ALTER DATABASE "${fx.sourceDb}" SET ${set}`);
    const plan = await fx.plan();
    // create_database gives the new database the source's settings; the target server of a real split may have others
    // (its own postgresql.conf): the large table's copy, the first of the run (largest first, one step at a time, so
    // no target session of the run's copies exists yet), waits while its database's are put back to the server's.
    const alone = plan.steps.find((s) => s.kind === 'copy_data' && s.table === 'public.user_login_history')!;
    const locks = await holdPauseLocks(fx, [alone.id]);
    const applying = spawnCli(['apply', '-m', fx.manifestFile, fx.planFile, '--yes', '--jobs', '1'], { ...fx.env, [TEST_PAUSE_ENV]: `before:${alone.id}` });
    try {
      await eventually('apply waits before the large text copy', async () => (await pausedSteps(fx, [alone.id])).length > 0);
      for (const set of settings) await query(fx.services[0]!.serverUrl, `ALTER DATABASE "${fx.services[0]!.database}" RESET ${set.split(' =')[0]}`);
    } finally {
      await locks.release();
    }
    const a = await applying.done;
    expect(a.code, a.stderr + a.stdout).toBe(0);
    const target = await query<{ id: number; doc: string | null; drawing: string | null; docs: string | null }>(
      fx.services[0]!.url,
      `SELECT id, doc::text AS doc, drawing::text AS drawing, docs::text[]::text AS docs FROM users ORDER BY id`,
    );
    expect(target).toEqual(source);
    const v = await fx.cli('verify', '--checksums');
    expect(v.code, v.stdout + v.stderr).toBe(0);
  });
});
