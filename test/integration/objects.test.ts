import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { stringify, parse } from 'yaml';
import { pg15, query, servers, second } from '../harness/servers.js';
import type { Catalog, Privileges } from '../../src/catalog/model.js';
import { functionKey, tableKey } from '../../src/catalog/model.js';
import type { Plan } from '../../src/plan/model.js';
import { readPlanFile } from '../../src/plan/plan-file.js';
import { introspectUrl } from './catalog-features.js';
import { runCli } from './helpers/cli.js';
import { dumpBlocks, PG15_DUMP, type DumpBlock } from './helpers/schema-dump.js';
import { objectsFixture, type ObjectsFixture } from './helpers/objects-fixture.js';

/**
 * Objects beside the tables (aggregates, procedures, window functions, functions
 * nothing depends on, sequences named only in function bodies, privileges, schema
 * comments): planned, carried, and working on the target as on the source.
 */

const fixtures: ObjectsFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

const PLACED = { ci: ['find_ci_builds_by_id'], rental: ['rename_film'] };

async function planAndApply(fx: ObjectsFixture): Promise<{ plan: Plan; planText: string; json: Record<string, unknown> }> {
  const p = await fx.cli('plan', '-o', fx.planFile);
  expect(p.code, p.stderr).toBe(0);
  const j = await fx.cli('plan', '--json');
  expect(j.code, j.stderr).toBe(0);
  const a = await fx.cli('apply', fx.planFile, '--yes');
  expect(a.code, `${a.stderr}\n${a.stdout}`).toBe(0);
  return { plan: await readPlanFile(fx.planFile), planText: p.stdout, json: JSON.parse(j.stdout) as Record<string, unknown> };
}

/** Privileges and comments of every object of a catalog, by kind and key. */
function acls(c: Catalog, drop: (grantee: string | null) => boolean = () => false): Record<string, unknown> {
  const clean = (p: Privileges | undefined): unknown => {
    if (!p) return null;
    const keep = (g: Privileges['grants']) => g.filter((x) => !drop(x.grantee));
    const columns = Object.fromEntries(Object.entries(p.columns ?? {}).map(([k, v]) => [k, keep(v)]).filter(([, v]) => (v as unknown[]).length > 0));
    const grants = keep(p.grants);
    if (grants.length === 0 && p.revokedFromPublic.length === 0 && Object.keys(columns).length === 0) return null;
    return { grants, revokedFromPublic: p.revokedFromPublic, columns };
  };
  const out: Record<string, unknown> = {};
  for (const t of c.tables) out[`table ${tableKey(t)}`] = { acl: clean(t.privileges), comment: t.comment };
  for (const v of c.views) out[`view ${tableKey(v)}`] = { acl: clean(v.privileges), comment: v.comment };
  for (const s of c.sequences) out[`sequence ${tableKey(s)}`] = { acl: clean(s.privileges), comment: s.comment };
  for (const f of c.functions) out[`${f.kind} ${functionKey(f)}`] = { acl: clean(f.privileges), comment: f.comment, ddl: f.ddl };
  for (const t of c.types) out[`type ${tableKey(t)}`] = { acl: clean(t.privileges), comment: t.comment };
  for (const n of c.namespaces ?? []) out[`schema ${n.name}`] = { acl: clean(n.privileges), comment: n.comment };
  return out;
}

const ROUTES: Array<{ label: string; source: () => string; target: () => string }> = [
  { label: 'PostgreSQL 15 to 18', source: pg15, target: () => servers().main },
  { label: 'PostgreSQL 18 to another 18 cluster', source: () => servers().main, target: () => second() },
];

describe.each(ROUTES)('functions, aggregates, procedures, sequences in bodies and privileges travel ($label)', (route) => {
  let fx: ObjectsFixture;
  let plan: Plan;
  let planText: string;
  let json: Record<string, unknown>;
  let source: Catalog;

  beforeAll(async () => {
    fx = await objectsFixture({ source: route.source(), target: route.target(), objects: PLACED });
    fixtures.push(fx);
    source = await introspectUrl(fx.sourceUrl, ['app', 'public']);
    ({ plan, planText, json } = await planAndApply(fx));
  });

  it('accounts for every function, aggregate, procedure, sequence, type and view: moved, or left behind and named', () => {
    const objects = (svc: string) => plan.services.find((s) => s.name === svc)!.objects!.map((o) => `${o.placement} ${o.kind} ${o.name}`);
    expect(objects('rental')).toEqual(
      expect.arrayContaining([
        'moved aggregate app.group_concat("text")',
        'moved aggregate app.sum_text(integer)',
        'moved aggregate app.median(double precision ORDER BY double precision)',
        'moved aggregate app.hypo_rank(VARIADIC "any" ORDER BY VARIADIC "any")',
        'moved window function app.row_counter()',
        'moved procedure app.rename_film(IN "id" integer, IN "new_title" "text")',
        'moved function app.sum_final(bigint)',
        'moved type app.rating',
        'moved view app.film_list',
      ]),
    );
    expect(objects('ci')).toEqual(
      expect.arrayContaining([
        'moved sequence public.ci_builds_id_seq',
        'moved function public.assign_ci_builds_id_value()',
        'moved function public.insert_into_loose_foreign_keys_deleted_records()',
        'moved function public.find_ci_builds_by_id("ci_builds_id" bigint)',
        // Called by the trigger function's body only: every overload of the name travels.
        'moved function public.ci_build_name("raw" "text")',
        'moved function public.ci_build_name("raw" "text", "n" bigint)',
      ]),
    );
    const everything = [
      ...source.functions.map(functionKey),
      ...source.sequences.map(tableKey),
      ...source.types.map(tableKey),
      ...source.views.map(tableKey),
    ];
    const accounted = [...plan.services.flatMap((s) => s.objects!.map((o) => o.name)), ...plan.leftBehind!.map((o) => o.name)];
    expect([...new Set(accounted)].sort()).toEqual([...new Set(everything)].sort());
    expect(plan.leftBehind).toEqual([{ kind: 'function', name: 'app.find_actor_by_id(integer)', reason: 'no moved table, view or function needs it' }]);
    expect(plan.warnings.join('\n')).toContain('function app.find_actor_by_id(integer)');
    // Left in the source, it reads a moved table: from the fence on, the frozen backup of it.
    expect(plan.warnings).toContainEqual(
      'function app.find_actor_by_id(integer), left in the source, reads app.actor (rental): from the fence on, in the source it reads their backup, which no longer changes ' +
        '(the services write to their new databases); once retention prune drops them it fails; move it with services.rental.objects, or run what calls it against the new database',
    );
    expect(planText).toContain('~ function app.find_actor_by_id(integer)');
    expect(planText).toContain('+ aggregate app.group_concat("text")');
    const js = json as { leftBehind: unknown[]; services: Array<{ name: string; objects: unknown[] }> };
    expect(js.leftBehind).toEqual(plan.leftBehind);
    expect(js.services.map((s) => s.objects)).toEqual(plan.services.map((s) => s.objects));
  });

  it('warns about a trigger function that writes to a table of another service, naming both', () => {
    const w = plan.warnings.filter((x) => x.includes('public.audit_ci_builds()'));
    expect(w).toHaveLength(1);
    expect(w[0]).toContain('writes to table public.audit_events, which is owned by rental');
    // The bookkeeping table the loose-foreign-key trigger writes to is the same service's: no warning.
    expect(plan.warnings.join('\n')).not.toContain('insert_into_loose_foreign_keys_deleted_records');
  });

  it('names the grantee that does not exist on the target server, and carries the others', () => {
    expect(plan.warnings.join('\n')).toContain(`role ${fx.roles.ghost} does not exist on server target`);
    expect(plan.warnings.join('\n')).not.toContain(`${fx.roles.reader} does not exist`);
    // The roles that used rental's tables in the source cannot connect to its database, which only its service role may.
    expect(plan.warnings).toContainEqual(
      expect.stringMatching(new RegExp(`^rental: .*${fx.roles.reader}.* own or use its tables in the source but cannot connect to ${fx.prefix}rental, which only ${fx.prefix}rental_svc may: .*needs GRANT .*"${fx.roles.reader}".* TO "${fx.prefix}rental_svc"`)),
    );
  });

  it('rules and extended statistics of the moved tables travel: definition, enabled state, statistics target, comment; verify names a rule missing', async () => {
    const rules = `SELECT c.relname::text AS t, r.rulename::text AS name, pg_get_ruledef(r.oid) AS def, r.ev_enabled::text AS enabled, obj_description(r.oid, 'pg_rewrite') AS comment
                     FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = 'app' AND r.rulename <> '_RETURN' ORDER BY 1, 2`;
    const stats = `SELECT s.stxname::text AS name, pg_get_statisticsobjdef(s.oid) AS def, NULLIF(s.stxstattarget::int, -1) AS target, obj_description(s.oid, 'pg_statistic_ext') AS comment
                     FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE n.nspname = 'app' ORDER BY 1`;
    const sourceRules = await query(fx.sourceUrl, rules);
    expect(sourceRules).toEqual([
      { t: 'film_actor', name: 'film_actor_fixed', def: expect.stringContaining('ON UPDATE TO app.film_actor DO INSTEAD NOTHING'), enabled: 'A', comment: 'casting is never edited, only added' },
      { t: 'film_actor', name: 'film_actor_kept', def: expect.stringContaining('ON DELETE TO app.film_actor DO INSTEAD NOTHING'), enabled: 'O', comment: null },
    ]);
    // They stand in front of the source's fence for UPDATE and DELETE: the plan says so.
    expect(planText).toContain(
      'app.film_actor has DO INSTEAD rules film_actor_fixed (UPDATE), film_actor_kept (DELETE): once it is fenced, such a statement in the source is rewritten by the rule and never meets the fence',
    );
    expect(await query(fx.rentalUrl, rules)).toEqual(sourceRules);
    const sourceStats = await query(fx.sourceUrl, stats);
    expect(sourceStats).toEqual([{ name: 'film_title_rating', def: expect.stringContaining('ON title, rating FROM app.film'), target: 300, comment: 'the rating follows the title' }]);
    expect(await query(fx.rentalUrl, stats)).toEqual(sourceStats);
    // Owned there, as every object of its database, by the service's role.
    expect(await query(fx.rentalUrl, `SELECT pg_get_userbyid(stxowner) AS o FROM pg_statistic_ext`)).toEqual([{ o: `${fx.prefix}rental_svc` }]);
    // A view's column default (what an INSERT through the view gets) too.
    const viewDefaults = `SELECT a.attname::text AS c, pg_get_expr(d.adbin, d.adrelid) AS d FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = 'app.film_titles'::regclass`;
    expect(await query(fx.sourceUrl, viewDefaults)).toEqual([{ c: 'rating', d: "'PG'::app.rating" }]);
    expect(await query(fx.rentalUrl, viewDefaults)).toEqual(await query(fx.sourceUrl, viewDefaults));
    // An expression index's statistics target (ALTER INDEX … ALTER COLUMN 1 SET STATISTICS) too.
    const indexStats = `SELECT a.attnum, a.attstattarget::int AS target FROM pg_attribute a WHERE a.attrelid = 'app.film_title_lower'::regclass AND a.attnum > 0`;
    expect(await query(fx.sourceUrl, indexStats)).toEqual([{ attnum: 1, target: 400 }]);
    expect(await query(fx.rentalUrl, indexStats)).toEqual([{ attnum: 1, target: 400 }]);
    // The rule works there as in the source: an UPDATE of film_actor changes nothing.
    await query(fx.rentalUrl, `UPDATE app.film_actor SET film_id = film_id + 0`);

    await query(fx.rentalUrl, `DROP RULE film_actor_fixed ON app.film_actor; ALTER VIEW app.film_titles ALTER COLUMN rating DROP DEFAULT`);
    try {
      const v = await fx.cli('verify');
      expect(v.code, v.stdout).toBe(1);
      expect(v.stdout).toMatch(/✗ schema +app\.film_actor .*rule film_actor_fixed missing in target/);
      expect(v.stdout).toMatch(/✗ schema +app\.film_titles +default of column rating missing in target/);
      // With DELETE and UPDATE rewritten in the source, verify proved the fence with an INSERT.
      expect(v.stdout).toMatch(/✓ fence +app\.film_actor +fenced: a write fails with 25006/);
    } finally {
      const [def] = sourceRules as Array<{ def: string }>;
      await query(
        fx.rentalUrl,
        `${def!.def} ALTER TABLE app.film_actor ENABLE ALWAYS RULE film_actor_fixed; COMMENT ON RULE film_actor_fixed ON app.film_actor IS 'casting is never edited, only added';
         ALTER VIEW app.film_titles ALTER COLUMN rating SET DEFAULT 'PG'`,
      );
    }
  });

  it('a table without columns keeps its rows; an inherited generated column declared again in a child is generated there as in the source', async () => {
    expect(await query(fx.ciUrl, `SELECT count(*)::int AS n FROM public.ci_ticks`)).toEqual([{ n: 3 }]);
    const stages = `SELECT tableoid::regclass::text AS t, minutes, seconds FROM public.ci_stages ORDER BY minutes`;
    expect(await query(fx.ciUrl, stages)).toEqual(await query(fx.sourceUrl, stages));
    const generated = `SELECT c.relname::text AS t, a.attgenerated::text AS g, pg_get_expr(d.adbin, d.adrelid) AS expr FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE c.relname LIKE 'ci_stages%' AND a.attname = 'seconds' ORDER BY 1`;
    expect(await query(fx.ciUrl, generated)).toEqual(await query(fx.sourceUrl, generated));
    await query(fx.ciUrl, `BEGIN; INSERT INTO public.ci_stages_manual (minutes) VALUES (10); ROLLBACK`);
  });

  it('a foreign table stays in the source, as the plan says; named in a service, it is a manifest error saying why', async () => {
    expect(planText).toContain('foreign table app.exchange_rates (server rates_server) stays in the source: its rows live on that server');
    const doc = parse(await readFile(fx.manifestFile, 'utf8')) as { services: Record<string, { tables: string[] }> };
    doc.services.rental!.tables.push('exchange_rates');
    const file = fx.manifestFile.replace(/\.yaml$/, '-foreign.yaml');
    await writeFile(file, stringify(doc));
    const r = await runCli(['plan', '-m', file], fx.env);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('services.rental.tables[4]: "exchange_rates" is a foreign table (its rows live on server rates_server): a split has nothing of it to copy');
  });

  it('verify --checksums passes on the clean split', async () => {
    const v = await fx.cli('verify', '--checksums');
    expect(v.code, `${v.stdout}\n${v.stderr}`).toBe(0);
  });

  it('each database gets the source\'s collations its columns and indexes name, as they are; an unused one, and a text search configuration, are named as left behind', async () => {
    const collations = (url: string) =>
      query<{ c: string }>(
        url,
        `SELECT concat_ws(' ', n.nspname || '.' || c.collname, c.collprovider, c.collcollate, c.collctype, c.collisdeterministic) AS c
           FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
      );
    const source = (await collations(fx.sourceUrl)).map((r) => r.c);
    expect(source).toHaveLength(3);
    expect((await collations(fx.ciUrl)).map((r) => r.c)).toEqual(source.filter((c) => c.startsWith('public.ci_name ')));
    expect((await collations(fx.rentalUrl)).map((r) => r.c)).toEqual(source.filter((c) => c.startsWith('app.film_order ')));
    // Used as the source uses them: the column's collation, the index's.
    expect(await query(fx.ciUrl, `SELECT collation_name AS c FROM information_schema.columns WHERE table_name = 'ci_builds' AND column_name = 'name'`)).toEqual([{ c: 'ci_name' }]);
    expect(await query(fx.rentalUrl, `SELECT indexdef AS d FROM pg_indexes WHERE indexname = 'film_title_posix'`)).toEqual([
      { d: 'CREATE INDEX film_title_posix ON app.film USING btree (title COLLATE app.film_order)' },
    ]);
    // Owned, as every object of its database, by the service's role.
    const owner = (url: string) => query(url, `SELECT pg_get_userbyid(c.collowner) AS o FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace WHERE n.nspname IN ('app', 'public')`);
    expect(await owner(fx.ciUrl)).toEqual([{ o: `${fx.prefix}ci_svc` }]);
    expect(await owner(fx.rentalUrl)).toEqual([{ o: `${fx.prefix}rental_svc` }]);
    expect(plan.warnings).toContainEqual(expect.stringContaining('collation app.unused_order left in the source, in no service\'s database'));
    expect(plan.warnings).toContainEqual(expect.stringContaining("text search configuration app.film_search left in the source, in no service's database: nothing moved names it"));
  });

  it('the source\'s publications are made again over the tables each database gets: row filter, column list, schema, options; the role owns those it may', async () => {
    // pg_publication_tables (15+) lists each published table with its columns and row filter.
    const published = (url: string, tables: string[]) =>
      query<{ p: string }>(
        url,
        // Generated columns are never replicated before 18 (nor from 18 by default), but pg_publication_tables lists them before 18 only.
        `SELECT concat_ws(' ', t.pubname, t.schemaname || '.' || t.tablename,
                          array_to_string(ARRAY(SELECT a FROM unnest(t.attnames) a WHERE NOT EXISTS (
                            SELECT 1 FROM pg_attribute x WHERE x.attrelid = (quote_ident(t.schemaname) || '.' || quote_ident(t.tablename))::regclass AND x.attname = a AND x.attgenerated <> '')), ','),
                          t.rowfilter,
                          p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, p.pubviaroot) AS p
           FROM pg_publication_tables t JOIN pg_publication p ON p.pubname = t.pubname
          WHERE t.schemaname || '.' || t.tablename = ANY($1::text[]) ORDER BY 1`,
        [tables],
      );
    const owners = (url: string) =>
      query<{ p: string; o: string }>(url, `SELECT pubname AS p, pg_get_userbyid(pubowner) AS o FROM pg_publication ORDER BY 1`);
    const [superuser] = await query<{ u: string }>(fx.rentalUrl, 'SELECT current_user AS u');
    for (const s of plan.services) {
      const url = s.name === 'ci' ? fx.ciUrl : fx.rentalUrl;
      const tables = s.tables.map((t) => t.name);
      const expected = await published(fx.sourceUrl, tables);
      expect(expected.length, `${s.name}: the source publishes its tables`).toBeGreaterThanOrEqual(s.name === 'ci' ? 3 : 7);
      // Both directions: every publication of a table it got, as the source has it, and (owners below) no other.
      expect(await published(url, tables), s.name).toEqual(expected);
      const role = `${fx.prefix}${s.name}_svc`;
      expect(await owners(url), s.name).toEqual(
        s.name === 'ci'
          ? [{ p: 'cross_service', o: role }, { p: 'every_table', o: superuser!.u }]
          : [
              { p: 'app_schema', o: superuser!.u },
              { p: 'cross_service', o: role },
              { p: 'every_table', o: superuser!.u },
              { p: 'film_titles', o: role },
            ],
      );
    }
    expect(planText).toMatch(/publication film_titles on the source publishes app\.actor, app\.film \(rental\): it is made again in the database of rental/);
    expect(planText).toMatch(/publication cross_service on the source publishes public\.audit_events \(rental\), public\.ci_builds \(ci\)/);
  });

  it('inserts relying on the sequence named in the trigger function, and deletes firing the bookkeeping trigger, work on the target', async () => {
    const [ins] = await query<{ id: string }>(fx.ciUrl, `INSERT INTO public.ci_builds (name) VALUES ('after the split') RETURNING id`);
    expect(Number(ins!.id)).toBe(6);
    await query(fx.ciUrl, `DELETE FROM public.ci_builds WHERE id = 2`);
    const lfk = await query<{ t: string; v: string }>(
      fx.ciUrl,
      `SELECT fully_qualified_table_name AS t, primary_key_value::text AS v FROM public.loose_foreign_keys_deleted_records ORDER BY id`,
    );
    expect(lfk).toEqual([
      { t: 'public.ci_builds', v: '5' },
      { t: 'public.ci_builds', v: '2' },
    ]);
    // The trigger function calls a function of the source that nothing else needs: it came along.
    const [unnamed] = await query<{ name: string }>(fx.ciUrl, `INSERT INTO public.ci_builds (name) VALUES ('  ') RETURNING name`);
    expect(unnamed!.name).toBe('unnamed');
    const [found] = await query<{ name: string }>(fx.ciUrl, `SELECT (public.find_ci_builds_by_id(3)).name AS name`);
    expect(found!.name).toBe('build 3');
  });

  it('views over aggregates, window functions and a function returning a view\'s rows answer as on the source; the procedure runs', async () => {
    for (const v of ['app.film_list', 'app.film_stats', 'app.film_running', 'app.first_film']) {
      const sql = `SELECT to_jsonb(v)::text AS r FROM ${v} v ORDER BY 1`;
      expect(await query(fx.rentalUrl, sql), v).toEqual(await query(fx.sourceUrl, sql));
    }
    expect((await query(fx.rentalUrl, `SELECT actors FROM app.film_list WHERE film_id = 1`))[0]).toEqual({ actors: 'Nick, Penelope' });
    await query(fx.rentalUrl, `CALL app.rename_film(2, 'Ace Goldfinger II')`);
    expect((await query(fx.rentalUrl, `SELECT title FROM app.film WHERE film_id = 2`))[0]).toEqual({ title: 'Ace Goldfinger II' });
    const left = await query(fx.rentalUrl, `SELECT 1 FROM pg_proc WHERE proname = 'find_actor_by_id'`);
    expect(left).toEqual([]);
  });

  it('privileges and comments of every carried object equal the source\'s, less the grants to the missing role', async () => {
    const ghost = (g: string | null) => g === fx.roles.ghost;
    const expected = acls(source, ghost);
    let compared = 0;
    for (const url of [fx.rentalUrl, fx.ciUrl]) {
      const target = acls(await introspectUrl(url, ['app', 'public']));
      for (const [key, value] of Object.entries(target)) {
        if (key === 'schema public' || key === 'schema app') {
          expect((value as { acl: unknown }).acl, `${key} in ${url}`).toEqual((expected[key] as { acl: unknown }).acl);
          continue;
        }
        expect(value, `${key} in ${url}`).toEqual(expected[key]);
        compared++;
      }
    }
    // Both directions: every object the plan says a database gets is there.
    expect(compared).toBe(plan.services.reduce((a, s) => a + s.objects!.length + s.tables.length, 0));
    const film = expected['table app.film'] as { acl: { grants: unknown[]; columns: unknown } };
    expect(film.acl.grants).toEqual([{ grantee: fx.roles.reader, privileges: ['SELECT'], grantable: [] }]);
    expect(film.acl.columns).toEqual({ title: [{ grantee: fx.roles.reader, privileges: ['UPDATE'], grantable: ['UPDATE'] }] });
    const comment = await query<{ c: string }>(fx.rentalUrl, `SELECT obj_description('app'::regnamespace, 'pg_namespace') AS c`);
    expect(comment).toEqual([{ c: 'the rental application' }]);
  });
});

const run = promisify(execFile);

/** pg_dump --schema-only WITH privileges and comments (no owners: they change in the split). */
async function fullDump(url: string): Promise<string> {
  const { stdout } = await run(PG15_DUMP, ['--schema-only', '--no-owner', '--quote-all-identifiers', '-d', url], { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** The object a dump block is about, as `schema.name` (a column's, a constraint's, a trigger's: its table's), or `schema <name>`. */
function subjectOf(block: DumpBlock): string {
  if (block.table) return block.table;
  const rest = block.key.slice(block.type.length + 1);
  const schema = rest.slice(0, rest.indexOf(' '));
  const name = rest.slice(schema.length + 1);
  const words = /^(FUNCTION|PROCEDURE|AGGREGATE|TABLE|SEQUENCE|TYPE|DOMAIN|VIEW|MATERIALIZED VIEW|SCHEMA|COLUMN) /;
  // Tags of comments and privileges are quoted (`TABLE "film"`, `COLUMN "film"."title"`): the first identifier names the object.
  const first = /^(?:"((?:[^"]|"")*)"|([^ ."(]+))/.exec(name.replace(words, ''));
  const obj = first ? (first[1]?.replaceAll('""', '"') ?? first[2]!) : name;
  return schema === '-' ? `schema ${obj}` : `${schema}.${obj}`;
}

describe('pg_dump with privileges and comments of each service database equals the source\'s (15 to 15)', () => {
  it('misses nothing of what the plan carries and invents nothing', async () => {
    const fx = await objectsFixture({ source: pg15(), target: pg15(), objects: PLACED });
    fixtures.push(fx);
    const before = dumpBlocks(await fullDump(fx.sourceUrl));
    const { plan } = await planAndApply(fx);
    let compared = 0;
    for (const s of plan.services) {
      const url = s.name === 'ci' ? fx.ciUrl : fx.rentalUrl;
      const after = dumpBlocks(await fullDump(url));
      const names = new Set([
        ...s.tables.map((t) => t.name),
        ...s.copies.map((t) => t.name),
        ...s.views,
        ...s.objects!.map((o) => o.name.replace(/\(.*$/, '')),
      ]);
      const schemas = new Set([...names].map((n) => `schema ${n.split('.')[0]}`));
      const carried = (block: DumpBlock) => names.has(subjectOf(block)) || schemas.has(subjectOf(block));
      const problems: string[] = [];
      for (const [key, block] of after) {
        const src = before.get(key);
        if (!src) problems.push(`only in ${s.database}: ${key}\n${block.body}`);
        else if (src.body !== block.body) problems.push(`differs in ${s.database}: ${key}\n--- source\n${src.body}\n--- target\n${block.body}`);
        else compared++;
      }
      for (const [key, block] of before) {
        if (carried(block) && !after.has(key)) problems.push(`missing in ${s.database}: ${key}\n${block.body}`);
      }
      expect(problems, s.database).toEqual([]);
      const kinds = new Set([...after.values()].map((b) => b.type));
      const expected =
        s.name === 'rental'
          ? ['ACL', 'COMMENT', 'AGGREGATE', 'FUNCTION', 'PROCEDURE', 'SEQUENCE', 'SCHEMA', 'TABLE', 'TYPE', 'VIEW']
          : ['ACL', 'FUNCTION', 'SEQUENCE', 'TABLE', 'TRIGGER'];
      for (const k of expected) expect(kinds, `${s.database} has a ${k}`).toContain(k);
    }
    expect(compared).toBeGreaterThan(40);
  });
});

describe('the source database\'s own settings', () => {
  it('are set on each new database before the copy, so a check that finds its function through the database\'s search_path holds there', async () => {
    const fx = await objectsFixture({ source: servers().main, target: second() });
    fixtures.push(fx);
    const sourceDb = new URL(fx.sourceUrl).pathname.slice(1);
    // MusicBrainz's way: unqualified names found through the database's search_path, from a CHECK constraint.
    await query(
      fx.sourceUrl,
      `ALTER DATABASE "${sourceDb}" SET search_path = app, "$user", public;
       ALTER DATABASE "${sourceDb}" SET "TimeZone" = 'Asia/Shanghai';
       ALTER DATABASE "${sourceDb}" SET statement_timeout = '5min';
       ALTER ROLE "${fx.roles.reader}" IN DATABASE "${sourceDb}" SET statement_timeout = '7s';
       ALTER ROLE "${fx.roles.reader}" IN DATABASE "${sourceDb}" SET search_path = app, "Odd $cps$ Schema";
       ALTER ROLE "${fx.roles.ghost}" IN DATABASE "${sourceDb}" SET work_mem = '8MB';
       ALTER DATABASE "${sourceDb}" SET app.settings.jwt_secret = 'Jwt-Secret-9911';
       ALTER ROLE "${fx.roles.reader}" IN DATABASE "${sourceDb}" SET app.api_token = 'Api-Token-5522';`,
    );
    // A new session: it has the database's search_path.
    await query(
      fx.sourceUrl,
      `CREATE FUNCTION app.padded(t text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT btrim(t) <> t $$;
       CREATE FUNCTION app.title_ok(t text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN NOT padded(t); END $$;
       ALTER TABLE app.film ADD CONSTRAINT film_title_ok CHECK (app.title_ok(title));`,
    );
    const settings = (url: string) =>
      query<{ s: string[] }>(url, `SELECT setconfig AS s FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) AND setrole = 0`);
    const [source] = await settings(fx.sourceUrl);
    const p = await fx.cli('plan', '-o', fx.planFile);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toContain(`with the source's settings search_path, TimeZone, statement_timeout`);
    // Supabase keeps its JWT secret in a database setting: named, never carried, its value nowhere the tool writes.
    expect(p.stdout).toContain(
      "the source database's settings app.settings.jwt_secret, app.api_token (role " + fx.roles.reader + ') hold a secret by their names: not carried',
    );
    const a = await fx.cli('apply', fx.planFile, '--yes');
    expect(a.code, `${a.stderr}\n${a.stdout}`).toBe(0);
    const written = [p.stdout, p.stderr, a.stdout, a.stderr, await readFile(fx.planFile, 'utf8'), JSON.stringify(await query(fx.env.CONTROL_URL!, `SELECT (SELECT string_agg(r::text, '') FROM cloudphone_split.runs r) || (SELECT string_agg(s::text, '') FROM cloudphone_split.steps s) AS t`))].join('\n');
    expect(written).not.toContain('Jwt-Secret-9911');
    expect(written).not.toContain('Api-Token-5522');
    for (const url of [fx.rentalUrl, fx.ciUrl]) {
      expect(await settings(url), url).toEqual([{ s: source!.s.filter((x) => !x.startsWith('app.settings.jwt_secret=')) }]);
      expect(await query(url, `SELECT current_setting('TimeZone') AS tz, current_setting('search_path') AS path`)).toEqual([
        { tz: 'Asia/Shanghai', path: 'app, "$user", public' },
      ]);
    }
    // A role's own settings in the database: carried where the role exists on the target server (the ghost does not).
    const roleSettings = (url: string) =>
      query<{ r: string; s: string[] }>(
        url,
        `SELECT r.rolname AS r, s.setconfig AS s FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
          WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY 1`,
      );
    const sourceRoles = await roleSettings(fx.sourceUrl);
    expect(sourceRoles.map((x) => x.r)).toEqual([fx.roles.ghost, fx.roles.reader].sort());
    for (const url of [fx.rentalUrl, fx.ciUrl]) {
      expect(await roleSettings(url), url).toEqual(sourceRoles.filter((x) => x.r === fx.roles.reader).map((x) => ({ ...x, s: x.s.filter((v) => !v.startsWith('app.api_token=')) })));
    }
    await expect(query(fx.rentalUrl, `INSERT INTO app.film (title) VALUES ('  padded ')`)).rejects.toThrow(/film_title_ok/);
    await query(fx.rentalUrl, `INSERT INTO app.film (title) VALUES ('Clean')`);
  });
});

describe('an extension a function needs only through the name of its text search dictionary', () => {
  it('comes along: MusicBrainz\'s immutable_unaccent(regdictionary \'public.unaccent\', …) behind an index', async () => {
    const fx = await objectsFixture({ source: servers().main, target: second() });
    fixtures.push(fx);
    await query(
      fx.sourceUrl,
      `CREATE EXTENSION unaccent WITH SCHEMA public;
       CREATE FUNCTION app.immutable_unaccent(regdictionary, text) RETURNS text LANGUAGE c IMMUTABLE STRICT AS '$libdir/unaccent', 'unaccent_dict';
       CREATE FUNCTION app.folded(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT app.immutable_unaccent(regdictionary 'public.unaccent', $1) $$;
       CREATE INDEX film_title_folded ON app.film (app.folded(title));`,
    );
    const p = await fx.cli('plan', '--json');
    expect(p.code, p.stderr).toBe(0);
    expect((JSON.parse(p.stdout) as { warnings: string[] }).warnings.join('\n')).not.toContain('unaccent');
    const a = await fx.cli('apply', '--yes');
    expect(a.code, `${a.stderr}\n${a.stdout}`).toBe(0);
    expect(await query(fx.rentalUrl, `SELECT app.folded('Crème brûlée') AS f`)).toEqual([{ f: 'Creme brulee' }]);
    expect(await query(fx.ciUrl, `SELECT extname AS e FROM pg_extension WHERE extname = 'unaccent'`)).toEqual([]);
  });
});

describe('text search configurations and dictionaries of the source\'s own', () => {
  it('are made again where a moved index, generated column or function names them, with their dictionaries and the extension those come from', async () => {
    const fx = await objectsFixture({ source: servers().main, target: second() });
    fixtures.push(fx);
    await query(
      fx.sourceUrl,
      `CREATE EXTENSION unaccent WITH SCHEMA public;
       CREATE TEXT SEARCH DICTIONARY app.film_stop (TEMPLATE = pg_catalog.simple, STOPWORDS = english, ACCEPT = false);
       CREATE TEXT SEARCH CONFIGURATION app."Film Folded" (COPY = pg_catalog.english);
       ALTER TEXT SEARCH CONFIGURATION app."Film Folded" ALTER MAPPING FOR hword, hword_part, word WITH public.unaccent, english_stem;
       ALTER TEXT SEARCH CONFIGURATION app."Film Folded" ALTER MAPPING FOR asciiword WITH app.film_stop, english_stem;
       ALTER TEXT SEARCH CONFIGURATION app."Film Folded" DROP MAPPING FOR email, url;
       CREATE TEXT SEARCH CONFIGURATION app.titles (COPY = pg_catalog.simple);
       CREATE TEXT SEARCH CONFIGURATION public.ci_words (COPY = pg_catalog.simple);
       CREATE INDEX film_title_fts ON app.film USING gin (to_tsvector('app."Film Folded"', title));
       ALTER TABLE app.actor ADD COLUMN name_tsv tsvector GENERATED ALWAYS AS (to_tsvector('app.titles'::regconfig, coalesce(name, ''))) STORED;
       CREATE FUNCTION public.ci_words(t text) RETURNS tsvector LANGUAGE plpgsql IMMUTABLE SET search_path = public AS $$ BEGIN RETURN to_tsvector('ci_words', t); END $$;
       CREATE INDEX ci_builds_words ON public.ci_builds USING gin (public.ci_words(name));`,
    );
    const p = await fx.cli('plan', '-o', fx.planFile);
    expect(p.code, p.stderr).toBe(0);
    const plan = await readPlanFile(fx.planFile);
    expect(plan.warnings.join('\n')).not.toMatch(/Film Folded|film_stop|app\.titles|ci_words|unaccent/);
    expect(plan.warnings).toContainEqual(expect.stringContaining("text search configuration app.film_search left in the source, in no service's database"));
    const a = await fx.cli('apply', fx.planFile, '--yes');
    expect(a.code, `${a.stderr}\n${a.stdout}`).toBe(0);
    // Each object as the source has it: template and options, parser, every token type's dictionaries in order.
    const described = (url: string) =>
      query<{ o: string }>(
        url,
        `SELECT 'dictionary ' || d.oid::regdictionary::text || ' ' || t.tmplname || ' ' || coalesce(d.dictinitoption, '') AS o
           FROM pg_ts_dict d JOIN pg_ts_template t ON t.oid = d.dicttemplate JOIN pg_namespace n ON n.oid = d.dictnamespace
          WHERE n.nspname NOT IN ('pg_catalog')
         UNION ALL
         SELECT 'configuration ' || c.oid::regconfig::text || ' ' || p.prsname || ' ' || coalesce(
                  (SELECT string_agg(tt.alias || '=' || m.dicts, ' ' ORDER BY tt.alias)
                     FROM (SELECT maptokentype, string_agg(mapdict::regdictionary::text, ',' ORDER BY mapseqno) AS dicts
                             FROM pg_ts_config_map WHERE mapcfg = c.oid GROUP BY maptokentype) m
                     JOIN ts_token_type(c.cfgparser) tt ON tt.tokid = m.maptokentype), '')
           FROM pg_ts_config c JOIN pg_ts_parser p ON p.oid = c.cfgparser JOIN pg_namespace n ON n.oid = c.cfgnamespace
          WHERE n.nspname NOT IN ('pg_catalog')
          ORDER BY 1`,
      );
    const source = (await described(fx.sourceUrl)).map((r) => r.o);
    const pick = (names: string[]) => source.filter((o) => names.some((n) => o.includes(n)));
    // Both directions: each database has exactly what its objects name (unaccent's own dictionary comes with the extension).
    expect((await described(fx.rentalUrl)).map((r) => r.o)).toEqual(pick(['app."Film Folded"', 'app.film_stop', 'app.titles', 'unaccent']));
    expect((await described(fx.ciUrl)).map((r) => r.o)).toEqual(pick(['configuration ci_words ']));
    expect(pick(['Film Folded'])[0]).toContain('asciiword=app.film_stop,english_stem');
    // And they work there as in the source.
    const folded = `SELECT to_tsvector('app."Film Folded"', 'The Crème Brûlée of the running actors')::text AS v`;
    expect(await query(fx.rentalUrl, folded)).toEqual(await query(fx.sourceUrl, folded));
    await query(fx.rentalUrl, `INSERT INTO app.actor (name) VALUES ('Penélope Cruz')`);
    expect(await query(fx.rentalUrl, `SELECT name_tsv::text AS v FROM app.actor WHERE name = 'Penélope Cruz'`)).toEqual([{ v: "'cruz':2 'penélope':1" }]);
    await query(fx.ciUrl, `INSERT INTO public.ci_builds (name) VALUES ('nightly build')`);
  });
});

describe('a table in a schema the split does not read', () => {
  it('a moved trigger function writing to it is named in the plan, and its write fails in the new database as said', async () => {
    const fx = await objectsFixture({ source: servers().main, target: servers().main });
    fixtures.push(fx);
    // An outbox table of its own schema (pgoutbox's outbox.messages), outside source.schemas.
    await query(
      fx.sourceUrl,
      `CREATE SCHEMA outbox; CREATE TABLE outbox.messages (id bigserial PRIMARY KEY, topic text);
       CREATE FUNCTION public.ci_builds_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN INSERT INTO outbox.messages (topic) VALUES ('ci_builds'); RETURN NULL; END $$;
       CREATE TRIGGER ci_builds_outbox AFTER INSERT ON public.ci_builds FOR EACH STATEMENT EXECUTE FUNCTION public.ci_builds_outbox();`,
    );
    const p = await fx.cli('plan', '-o', fx.planFile);
    expect(p.code, p.stderr).toBe(0);
    const plan = await readPlanFile(fx.planFile);
    expect(plan.warnings.filter((w) => w.includes('public.ci_builds_outbox()'))).toEqual([
      `function public.ci_builds_outbox() (in ${fx.prefix}ci, for ci) writes to table outbox.messages, in schema outbox, which is not in source.schemas: ` +
        `no service database gets it, so there that write fails with "relation does not exist", and the statement that ran the function with it; ` +
        `add the schema to source.schemas and give outbox.messages to ci, or change the function`,
    ]);
    const a = await fx.cli('apply', fx.planFile, '--yes');
    expect(a.code, `${a.stderr}\n${a.stdout}`).toBe(0);
    await expect(query(fx.ciUrl, `INSERT INTO public.ci_builds (name) VALUES ('x')`)).rejects.toThrow('relation "outbox.messages" does not exist');
  });
});

describe('a table another service only copies', () => {
  it('a moved trigger function writing to it is told the write fails there (the copy is read-only), and it does; its sequence is no collision (the copy draws no values)', async () => {
    const fx = await objectsFixture({ source: servers().main, target: servers().main });
    fixtures.push(fx);
    await query(
      fx.sourceUrl,
      `CREATE FUNCTION public.touch_actor() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN UPDATE app.actor SET name = name || '!' WHERE actor_id = 1; RETURN NULL; END $$;
       CREATE TRIGGER ci_builds_touch_actor AFTER INSERT ON public.ci_builds FOR EACH STATEMENT EXECUTE FUNCTION public.touch_actor();`,
    );
    const doc = parse(await readFile(fx.manifestFile, 'utf8')) as { services: { ci: { copies?: string[] } } };
    doc.services.ci.copies = ['app.actor'];
    await writeFile(fx.manifestFile, stringify(doc));
    const p = await fx.cli('plan', '-o', fx.planFile);
    expect(p.code, p.stderr).toBe(0);
    const plan = await readPlanFile(fx.planFile);
    expect(plan.warnings.filter((w) => w.includes('public.touch_actor()'))).toEqual([
      `function public.touch_actor() (in ${fx.prefix}ci, for ci) writes to table app.actor, which is owned by rental and only copied into ${fx.prefix}ci: ` +
        `there the copy is read-only, so that write fails, and the statement that ran the function with it; give app.actor to ci, or change the function`,
    ]);
    expect(plan.warnings.join('\n')).not.toContain('sequence app.actor_actor_id_seq is used by tables of');
    const a = await fx.cli('apply', fx.planFile, '--yes');
    expect(a.code, `${a.stderr}\n${a.stdout}`).toBe(0);
    // As warned: the trigger's write into the copy is refused, and the insert that fired it with it.
    await expect(query(fx.ciUrl, `INSERT INTO public.ci_builds (name) VALUES ('x')`)).rejects.toThrow(
      `table app.actor is a read-only copy: its rows belong to service rental, in database ${fx.prefix}rental; write there`,
    );
    // verify holds the copy to it: with its trigger disabled, the copy's schema check fails naming it.
    const schemaOfCopy = async () => {
      const v = await fx.cli('verify', '--json');
      return { code: v.code, check: (JSON.parse(v.stdout) as { checks: Array<{ kind: string; ok: boolean; service?: string; table?: string; detail: string }> }).checks.find((c) => c.kind === 'schema' && c.service === 'ci' && c.table === 'app.actor') };
    };
    expect(await schemaOfCopy()).toMatchObject({ code: 0, check: { ok: true } });
    await query(fx.ciUrl, `ALTER TABLE app.actor DISABLE TRIGGER cloudphone_split_read_only_copy`);
    expect(await schemaOfCopy()).toMatchObject({
      code: 1,
      check: { ok: false, detail: expect.stringContaining('app.actor is a copy but has no enabled cloudphone_split_read_only_copy trigger: a write to it succeeds') },
    });
  });
});

describe('verify\'s isolation in a source that stays in use, tables in a schema of their own', () => {
  it('a service role without USAGE on that schema is isolated from its moved tables there; one granted SELECT on one is named', async () => {
    const fx = await objectsFixture({ source: servers().main, target: servers().main });
    fixtures.push(fx);
    const a = await fx.cli('apply', '--yes');
    expect(a.code, `${a.stderr}\n${a.stdout}`).toBe(0);
    const isolation = async () => {
      const v = await fx.cli('verify', '--json');
      return { code: v.code, checks: (JSON.parse(v.stdout) as { checks: Array<{ kind: string; ok: boolean; service?: string; target?: string; detail: string }> }).checks.filter((c) => c.kind === 'isolation' && c.service === 'rental') };
    };
    const source = new URL(fx.sourceUrl).pathname.slice(1);
    const clean = await isolation();
    expect(clean.checks.find((c) => c.target === source)).toMatchObject({ ok: true, detail: expect.stringContaining('holds no privilege on its 4 moved tables there') });
    expect(clean.code).toBe(0);
    await query(fx.sourceUrl, `GRANT SELECT ON app.actor TO "${fx.prefix}rental_svc"`);
    const granted = await isolation();
    expect(granted.code).toBe(1);
    expect(granted.checks.find((c) => c.target === source)).toMatchObject({ ok: false, detail: expect.stringContaining(`role ${fx.prefix}rental_svc holds privileges on moved tables in ${source} (the source): app.actor`) });
    // Granted to PUBLIC instead: revoking from the role would change nothing, and the check says what does.
    await query(fx.sourceUrl, `REVOKE SELECT ON app.actor FROM "${fx.prefix}rental_svc"; GRANT SELECT ON app.actor TO PUBLIC`);
    const viaPublic = await isolation();
    expect(viaPublic.code).toBe(1);
    expect(viaPublic.checks.find((c) => c.target === source)?.detail).toBe(
      `role ${fx.prefix}rental_svc holds privileges on moved tables in ${source} (the source): app.actor through PUBLIC (granted to PUBLIC in the source, so every role reads the backup there): ` +
        `REVOKE ALL ON app.actor FROM PUBLIC (what still needs them there then needs a grant of its own)`,
    );
    await query(fx.sourceUrl, `REVOKE ALL ON app.actor FROM PUBLIC`);
    expect((await isolation()).code).toBe(0);
  });
});

describe('a materialized view that moves with its service', () => {
  it('gets its indexes, so REFRESH … CONCURRENTLY works there; verify names an index missing in the target', async () => {
    const fx = await objectsFixture({ source: servers().main, target: second() });
    fixtures.push(fx);
    await query(
      fx.sourceUrl,
      `CREATE MATERIALIZED VIEW app.film_counts AS SELECT f.film_id, count(fa.actor_id) AS actors FROM app.film f LEFT JOIN app.film_actor fa ON fa.film_id = f.film_id GROUP BY f.film_id;
       CREATE UNIQUE INDEX film_counts_film ON app.film_counts (film_id);
       CREATE INDEX film_counts_actors ON app.film_counts (actors) WHERE actors > 0;
       COMMENT ON INDEX app.film_counts_film IS 'what REFRESH CONCURRENTLY needs';
       ALTER MATERIALIZED VIEW app.film_counts CLUSTER ON film_counts_film;
       CREATE MATERIALIZED VIEW app.film_names AS SELECT film_id FROM app.film WITH NO DATA;`,
    );
    const a = await fx.cli('apply', '--yes');
    expect(a.code, `${a.stderr}\n${a.stdout}`).toBe(0);
    // Filled where the source's is, and left unfilled where the source never filled it (a query on it fails on both).
    const populated = (url: string) => query<{ v: string; p: boolean }>(url, `SELECT relname AS v, relispopulated AS p FROM pg_class WHERE relkind = 'm' ORDER BY 1`);
    expect(await populated(fx.rentalUrl)).toEqual([{ v: 'film_counts', p: true }, { v: 'film_names', p: false }]);
    expect(await populated(fx.rentalUrl)).toEqual(await populated(fx.sourceUrl));
    expect(await query(fx.rentalUrl, `SELECT count(*)::int AS n FROM app.film_counts`)).toEqual(await query(fx.sourceUrl, `SELECT count(*)::int AS n FROM app.film_counts`));
    const indexes = (url: string) =>
      query<{ d: string; c: string | null; k: boolean }>(
        url,
        `SELECT pg_get_indexdef(i.indexrelid) AS d, obj_description(i.indexrelid, 'pg_class') AS c, i.indisclustered AS k
           FROM pg_index i WHERE i.indrelid = 'app.film_counts'::regclass ORDER BY 1`,
      );
    // Both ways: the same indexes, comments and clustering.
    expect(await indexes(fx.rentalUrl)).toEqual(await indexes(fx.sourceUrl));
    expect((await indexes(fx.rentalUrl)).length).toBe(2);
    await query(fx.rentalUrl, `REFRESH MATERIALIZED VIEW CONCURRENTLY app.film_counts`);
    const v = await fx.cli('verify', '--json');
    expect(v.code, v.stdout).toBe(0);
    await query(fx.rentalUrl, `DROP INDEX app.film_counts_actors`);
    const broken = await fx.cli('verify', '--json');
    expect(broken.code).toBe(1);
    const checks = (JSON.parse(broken.stdout) as { checks: Array<{ kind: string; table?: string; ok: boolean; detail: string }> }).checks;
    expect(checks.filter((c) => !c.ok)).toEqual([expect.objectContaining({ kind: 'schema', table: 'app.film_counts', detail: 'index film_counts_actors missing in target' })]);
  });
});

describe('a moved function that runs SQL built at run time', () => {
  it('is named in a warning, as the tables that SQL names cannot be checked (MusicBrainz\'s update_aggregate_rating)', async () => {
    const fx = await objectsFixture({ source: servers().main, target: servers().main });
    fixtures.push(fx);
    await query(
      fx.sourceUrl,
      `CREATE FUNCTION app.count_cast() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         EXECUTE format('UPDATE public.%I SET name = name WHERE id = $1', 'ci_' || 'builds') USING NEW.actor_id;
         RETURN NEW;
       END $$;
       CREATE TRIGGER film_actor_count AFTER INSERT ON app.film_actor FOR EACH ROW EXECUTE FUNCTION app.count_cast();`,
    );
    const p = await fx.cli('plan', '-o', fx.planFile);
    expect(p.code, p.stderr).toBe(0);
    const plan = await readPlanFile(fx.planFile);
    expect(plan.warnings.filter((w) => w.includes('SQL built at run time'))).toEqual([
      `function app.count_cast() (in ${fx.prefix}rental, for rental) runs SQL built at run time (EXECUTE …): ` +
        `the tables that SQL names cannot be checked; one that ${fx.prefix}rental does not get fails there with "relation … does not exist"`,
    ]);
    const a = await fx.cli('apply', fx.planFile, '--yes');
    expect(a.code, `${a.stderr}\n${a.stdout}`).toBe(0);
    // As warned: its SQL names a table of the ci service.
    await expect(query(fx.rentalUrl, `INSERT INTO app.film_actor VALUES (3, 3)`)).rejects.toThrow(/relation "public.ci_builds" does not exist/);
  });
});

describe('objects: in the manifest', () => {
  it('an unknown name is a manifest error naming the closest object, with exit 2', async () => {
    const fx = await objectsFixture({ source: servers().main, target: servers().main, objects: { rental: ['find_actr_by_id', 'film_list', 'film'] } });
    fixtures.push(fx);
    const r = await fx.cli('plan', '-o', fx.planFile);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('services.rental.objects[0]');
    expect(r.stderr).toContain('did you mean find_actor_by_id (function)?');
    expect(r.stderr).toContain('services.rental.objects[1]');
    expect(r.stderr).toContain('views move with the tables they read');
    expect(r.stderr).toContain('services.rental.objects[2]');
    expect(r.stderr).toContain('move it to services.rental.tables');
    // Placed by name, the function moves with rental and is no longer left behind.
    const doc = parse(await readFile(fx.manifestFile, 'utf8')) as { services: { rental: { objects: string[] }; ci: { objects: string[] } } };
    doc.services.rental.objects = ['rename_film', 'app.find_actor_by_id'];
    doc.services.ci = { ...doc.services.ci, objects: PLACED.ci };
    await writeFile(fx.manifestFile, stringify(doc));
    // A function returning a table's row type cannot go where the table does not.
    doc.services.rental.objects = ['find_ci_builds_by_id'];
    await writeFile(fx.manifestFile, stringify(doc));
    const blocked = await fx.cli('plan', '-o', fx.planFile);
    expect(blocked.code, blocked.stderr).toBe(1);
    expect(blocked.stdout).toMatch(/error: function public\.find_ci_builds_by_id\("ci_builds_id" bigint\) \(in \S+, for rental\) uses the row type of public\.ci_builds/);
    doc.services.rental.objects = ['rename_film', 'app.find_actor_by_id'];
    await writeFile(fx.manifestFile, stringify(doc));
    const ok = await fx.cli('plan', '--json');
    expect(ok.code, ok.stderr).toBe(0);
    const p = JSON.parse(ok.stdout) as { leftBehind: unknown[]; services: Array<{ name: string; objects: Array<{ name: string }> }> };
    expect(p.leftBehind).toEqual([]);
    expect(p.services.find((s) => s.name === 'rental')!.objects.map((o) => o.name)).toContain('app.find_actor_by_id(integer)');
  });

  it('names the default privileges it does not carry, in the plan\'s warnings', async () => {
    const fx = await objectsFixture({ source: servers().main, target: servers().main });
    fixtures.push(fx);
    const reader = `"${fx.roles.reader.replaceAll('"', '""')}"`;
    await query(fx.sourceUrl, `ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT, UPDATE ON TABLES TO ${reader}`);
    await query(fx.sourceUrl, `ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC`);
    const r = await fx.cli('plan', '--json');
    expect(r.code, r.stderr).toBe(0);
    const warning = (JSON.parse(r.stdout) as { warnings: string[] }).warnings.find((w) => w.startsWith('default privileges of the source are not carried'));
    expect(warning).toBeDefined();
    expect(warning).toContain(`IN SCHEMA app ON TABLES (${fx.roles.reader} SELECT, ${fx.roles.reader} UPDATE)`);
    expect(warning).toContain('ON FUNCTIONS (revokes built-in defaults)');
  });
});
