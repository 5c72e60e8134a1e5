import { afterAll, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import { keepingSource, keepServices, splitFixture, type SplitFixture } from './helpers/split-fixture.js';

const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

/**
 * AdventureWorks' short-name schemas (`pe.p` over `person.person`) left out of
 * source.schemas: the split never saw those views, so they stayed in the source over the
 * fenced tables, no service database got them, and prune later refused, all without a word.
 */
describe('views outside source.schemas', () => {
  it('that read moved tables are named by plan, with the schema to add; those reading only staying tables are not', async () => {
    const fx = await splitFixture({ source: servers().main, scale: 0.05, edit: (doc) => keepServices(doc, ['user-service']) });
    fixtures.push(fx);
    await query(
      fx.sourceUrl,
      `CREATE SCHEMA short;
       CREATE VIEW short.u AS SELECT id FROM public.users;
       CREATE MATERIALIZED VIEW short.n AS SELECT count(*) AS n FROM public.users;
       CREATE VIEW short.d AS SELECT id FROM public.devices;`,
    );
    const plan = await fx.plan();
    const warning = plan.warnings.find((w) => w.includes('outside source.schemas'));
    expect(warning).toBe(
      '2 views in schema short, outside source.schemas, read moved tables: short.n (reads public.users), short.u (reads public.users); ' +
        'the split does not see them, so they stay in the source over the fenced backup (no service database gets them) and retention prune refuses while they exist: ' +
        'add short to source.schemas to move them with their tables',
    );
  });

  it('functions using a moved table\'s row type are named: they stay in the source and prune cannot drop the table under them', async () => {
    // A split that keeps its tables in the source (prune drops them by name; a retired source goes whole).
    const fx = await splitFixture({ source: servers().main, scale: 0.05, edit: keepingSource(['user-service']) });
    fixtures.push(fx);
    await query(
      fx.sourceUrl,
      `CREATE FUNCTION public.active_users() RETURNS SETOF public.users LANGUAGE sql STABLE AS 'SELECT * FROM public.users';
       CREATE FUNCTION public.device_count(d public.devices) RETURNS int LANGUAGE sql AS 'SELECT 1';`,
    );
    const plan = await fx.plan();
    const warning = plan.warnings.find((w) => w.includes('row type of moved tables'));
    expect(warning).toBe(
      'a function of the source uses the row type of moved tables: active_users() (uses the row type of public.users); ' +
        'it stays in the source (a service database gets its own copy), and retention prune, which drops the moved tables without CASCADE, refuses while it exists: ' +
        'drop it in the source once nothing calls it there, before the backup expires',
    );
  });
});
