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

  it('functions of schemas outside source.schemas that read or write moved tables are named (Lemmy\'s r.site_aggregates_activity); one a moved table\'s trigger needs goes with it', async () => {
    const fx = await splitFixture({ source: servers().main, scale: 0.05, edit: (doc) => keepServices(doc, ['user-service']) });
    fixtures.push(fx);
    await query(
      fx.sourceUrl,
      `CREATE SCHEMA jobs;
       CREATE FUNCTION jobs.user_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM public.users $$;
       CREATE FUNCTION jobs.device_seen() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE public.users SET phone = phone WHERE id = NEW.user_id; RETURN NEW; END $$;
       CREATE TRIGGER device_seen AFTER INSERT ON public.devices FOR EACH ROW EXECUTE FUNCTION jobs.device_seen();
       CREATE FUNCTION jobs.user_stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM 1 FROM public.users LIMIT 1; RETURN NEW; END $$;
       CREATE TRIGGER user_stamp BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION jobs.user_stamp();`,
    );
    const plan = await fx.plan();
    const warning = plan.warnings.filter((w) => w.includes('outside source.schemas'));
    expect(warning).toEqual([
      '2 functions of schema jobs, outside source.schemas (public), use moved tables: jobs.device_seen() writes to public.users; jobs.user_count() reads public.users; ' +
        'the split does not see them: they stay in the source, where from the fence on a read gets the backup, which no longer changes, and a write fails at the fence, ' +
        "and retention prune refuses while they use the tables; add jobs to source.schemas for the plan to account for them, or change them to use the services' databases",
    ]);
  });
});
