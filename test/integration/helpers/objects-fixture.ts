import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { query, uniquePrefix, withDatabase } from '../../harness/servers.js';
import { runCli, type CliResult } from './cli.js';
import { dropTestDatabases } from './drop-databases.js';

const q = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/**
 * A schema of the kinds of objects that live beside the tables: a DVD-rental-style
 * `group_concat` aggregate used by a view (pagila's `film_list`), a moving aggregate
 * with final and combine functions, ordered-set and hypothetical aggregates, a window
 * function, a function returning a view's rows read by another view, a procedure; a Rails-style trigger that takes ids from a sequence named
 * only in its body and a GitLab-style loose-foreign-key trigger that writes to a
 * bookkeeping table; unrelated `find_*_by_id` functions (GitLab's return a table's row type); comments and privileges
 * (on schemas, tables, columns, sequences, functions, types) granted to `reader`
 * (exists on every server) and `ghost` (only on the source's).
 */
export function objectsSql(roles: { reader: string; ghost: string }): string {
  const reader = q(roles.reader);
  const ghost = q(roles.ghost);
  return `
    CREATE SCHEMA app;
    COMMENT ON SCHEMA app IS 'the rental application';
    GRANT USAGE ON SCHEMA app TO ${reader};
    GRANT USAGE ON SCHEMA public TO ${reader};

    CREATE TYPE app.rating AS ENUM ('G', 'PG', 'R');
    GRANT USAGE ON TYPE app.rating TO ${reader};
    REVOKE USAGE ON TYPE app.rating FROM PUBLIC;

    CREATE TABLE app.actor (actor_id serial PRIMARY KEY, name text NOT NULL);
    CREATE TABLE app.film (film_id serial PRIMARY KEY, title text NOT NULL, rating app.rating NOT NULL DEFAULT 'G');
    CREATE TABLE app.film_actor (
      actor_id integer NOT NULL REFERENCES app.actor, film_id integer NOT NULL REFERENCES app.film,
      PRIMARY KEY (actor_id, film_id));
    COMMENT ON TABLE app.film IS 'films for rent';
    -- A foreign table (as in PostgreSQL's pg_dump tests, a wrapper without handler): nothing of it moves.
    CREATE FOREIGN DATA WRAPPER rates_wrapper;
    CREATE SERVER rates_server FOREIGN DATA WRAPPER rates_wrapper;
    CREATE FOREIGN TABLE app.exchange_rates (currency text, rate numeric) SERVER rates_server OPTIONS (schema_name 'fx');
    -- pg_dump carries rules and extended statistics; so must the split.
    CREATE VIEW app.film_titles AS SELECT film_id, title, rating FROM app.film;
    ALTER VIEW app.film_titles ALTER COLUMN rating SET DEFAULT 'PG';
    CREATE INDEX film_title_lower ON app.film (lower(title));
    ALTER INDEX app.film_title_lower ALTER COLUMN 1 SET STATISTICS 400;
    CREATE STATISTICS app.film_title_rating (dependencies, ndistinct) ON title, rating FROM app.film;
    ALTER STATISTICS app.film_title_rating SET STATISTICS 300;
    COMMENT ON STATISTICS app.film_title_rating IS 'the rating follows the title';
    CREATE RULE film_actor_fixed AS ON UPDATE TO app.film_actor DO INSTEAD NOTHING;
    ALTER TABLE app.film_actor ENABLE ALWAYS RULE film_actor_fixed;
    COMMENT ON RULE film_actor_fixed ON app.film_actor IS 'casting is never edited, only added';
    CREATE RULE film_actor_kept AS ON DELETE TO app.film_actor DO INSTEAD NOTHING;
    GRANT SELECT ON app.film, app.actor, app.film_actor TO ${reader};
    GRANT SELECT, INSERT ON app.film TO ${ghost};
    GRANT UPDATE (title) ON app.film TO ${reader} WITH GRANT OPTION;
    GRANT USAGE ON SEQUENCE app.film_film_id_seq TO ${reader};

    CREATE FUNCTION app._group_concat(text, text) RETURNS text LANGUAGE sql IMMUTABLE
      AS $$ SELECT CASE WHEN $2 IS NULL THEN $1 WHEN $1 IS NULL THEN $2 ELSE $1 || ', ' || $2 END $$;
    CREATE AGGREGATE app.group_concat(text) (SFUNC = app._group_concat, STYPE = text);
    COMMENT ON AGGREGATE app.group_concat(text) IS 'comma-separated list';
    REVOKE EXECUTE ON FUNCTION app.group_concat(text) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION app.group_concat(text) TO ${reader};

    CREATE FUNCTION app.sum_step(bigint, integer) RETURNS bigint LANGUAGE sql IMMUTABLE AS 'SELECT $1 + coalesce($2, 0)';
    CREATE FUNCTION app.sum_inverse(bigint, integer) RETURNS bigint LANGUAGE sql IMMUTABLE AS 'SELECT $1 - coalesce($2, 0)';
    CREATE FUNCTION app.sum_combine(bigint, bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS 'SELECT $1 + $2';
    CREATE FUNCTION app.sum_final(bigint) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT ''total '' || $1';
    CREATE AGGREGATE app.sum_text(integer) (
      SFUNC = app.sum_step, STYPE = bigint, FINALFUNC = app.sum_final, COMBINEFUNC = app.sum_combine, INITCOND = '0',
      MSFUNC = app.sum_step, MINVFUNC = app.sum_inverse, MSTYPE = bigint, MFINALFUNC = app.sum_final, MINITCOND = '0',
      PARALLEL = SAFE);
    CREATE AGGREGATE app.median(double precision ORDER BY double precision) (
      SFUNC = ordered_set_transition, STYPE = internal, FINALFUNC = percentile_cont_float8_final);
    CREATE AGGREGATE app.hypo_rank(VARIADIC "any" ORDER BY VARIADIC "any") (
      SFUNC = ordered_set_transition_multi, STYPE = internal, FINALFUNC = rank_final, FINALFUNC_EXTRA, HYPOTHETICAL);
    CREATE FUNCTION app.row_counter() RETURNS bigint LANGUAGE internal WINDOW IMMUTABLE AS 'window_row_number';

    CREATE VIEW app.film_list AS
      SELECT f.film_id, f.title, app.group_concat(a.name ORDER BY a.name) AS actors
      FROM app.film f LEFT JOIN app.film_actor fa ON fa.film_id = f.film_id LEFT JOIN app.actor a ON a.actor_id = fa.actor_id
      GROUP BY f.film_id, f.title;
    COMMENT ON VIEW app.film_list IS 'films with their actors';
    GRANT SELECT ON app.film_list TO ${reader};
    CREATE VIEW app.film_stats AS
      SELECT app.median(0.5) WITHIN GROUP (ORDER BY film_id::float8) AS median,
             app.hypo_rank(2) WITHIN GROUP (ORDER BY film_id) AS rank_of_2,
             app.sum_text(film_id) AS total
      FROM app.film;
    CREATE VIEW app.film_running AS
      SELECT film_id, app.row_counter() OVER (ORDER BY film_id) AS n,
             app.sum_text(film_id) OVER (ORDER BY film_id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS pair
      FROM app.film;

    CREATE FUNCTION app.film_list_of(integer) RETURNS SETOF app.film_list LANGUAGE sql STABLE
      AS 'SELECT * FROM app.film_list WHERE film_id = $1';
    CREATE VIEW app.first_film AS SELECT * FROM app.film_list_of(1);

    CREATE PROCEDURE app.rename_film(id integer, new_title text) LANGUAGE plpgsql
      AS $$ BEGIN UPDATE app.film SET title = new_title WHERE film_id = id; END $$;
    COMMENT ON PROCEDURE app.rename_film(integer, text) IS 'renames a film';
    GRANT EXECUTE ON PROCEDURE app.rename_film(integer, text) TO ${reader};
    CREATE FUNCTION app.find_actor_by_id(integer) RETURNS text LANGUAGE sql STABLE
      AS 'SELECT name FROM app.actor WHERE actor_id = $1';

    CREATE TABLE public.audit_events (id bigserial PRIMARY KEY, what text NOT NULL);

    CREATE SEQUENCE public.ci_builds_id_seq;
    -- Collations of its own: one a column uses, one only an index names.
    CREATE COLLATION public.ci_name (provider = libc, locale = 'C');
    CREATE COLLATION app.film_order (provider = libc, lc_collate = 'POSIX', lc_ctype = 'POSIX');
    CREATE COLLATION app.unused_order (provider = libc, locale = 'C');
    COMMENT ON COLLATION app.film_order IS 'titles in byte order';
    -- Comments pg_dump carries on a domain's constraint and a composite type's attribute.
    CREATE DOMAIN app.minutes AS int CONSTRAINT minutes_positive CHECK (VALUE >= 0);
    COMMENT ON CONSTRAINT minutes_positive ON DOMAIN app.minutes IS 'no negative running time';
    CREATE TYPE app.film_span AS (minutes app.minutes, note text);
    COMMENT ON COLUMN app.film_span.minutes IS 'whole minutes';
    ALTER TABLE app.film ADD COLUMN span app.film_span;
    CREATE TABLE public.ci_builds (id bigint NOT NULL PRIMARY KEY, name text COLLATE public.ci_name);
    -- Shapes from PostgreSQL's own pg_dump tests: a table without columns (its rows are all it holds),
    -- and children of a table with a generated column, one declaring that column again.
    CREATE TABLE public.ci_ticks ();
    INSERT INTO public.ci_ticks DEFAULT VALUES; INSERT INTO public.ci_ticks DEFAULT VALUES; INSERT INTO public.ci_ticks DEFAULT VALUES;
    CREATE TABLE public.ci_stages (minutes int, seconds int GENERATED ALWAYS AS (minutes * 60) STORED);
    CREATE TABLE public.ci_stages_manual (minutes int, seconds int) INHERITS (public.ci_stages);
    CREATE TABLE public.ci_stages_auto (trigger text) INHERITS (public.ci_stages);
    INSERT INTO public.ci_stages (minutes) VALUES (1); INSERT INTO public.ci_stages_manual (minutes) VALUES (2); INSERT INTO public.ci_stages_auto (minutes, trigger) VALUES (3, 'push');
    CREATE INDEX film_title_posix ON app.film (title COLLATE app.film_order);
    -- A text search configuration of its own: not carried, named by the plan.
    CREATE TEXT SEARCH CONFIGURATION app.film_search (COPY = pg_catalog.simple);
    -- Called only from a trigger function's body (pg_depend records no such call), in two overloads.
    CREATE FUNCTION public.ci_build_name(raw text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
    BEGIN RETURN coalesce(nullif(trim(raw), ''), 'unnamed'); END $$;
    CREATE FUNCTION public.ci_build_name(raw text, n bigint) RETURNS text LANGUAGE sql IMMUTABLE
      AS $$ SELECT public.ci_build_name(raw) || ' #' || n $$;
    CREATE FUNCTION public.assign_ci_builds_id_value() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.id IS NOT NULL THEN
        RAISE EXCEPTION 'Do not assign id: it comes from ci_builds_id_seq';
      END IF;
      NEW.id := nextval('ci_builds_id_seq'::regclass);
      NEW.name := CI_BUILD_NAME(NEW.name);
      RETURN NEW;
    END
    $$;
    CREATE TRIGGER assign_ci_builds_id_trigger BEFORE INSERT ON public.ci_builds
      FOR EACH ROW EXECUTE FUNCTION public.assign_ci_builds_id_value();
    CREATE TABLE public.loose_foreign_keys_deleted_records (
      id bigserial PRIMARY KEY, fully_qualified_table_name text NOT NULL, primary_key_value bigint NOT NULL);
    CREATE FUNCTION public.insert_into_loose_foreign_keys_deleted_records() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO loose_foreign_keys_deleted_records (fully_qualified_table_name, primary_key_value)
      SELECT TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, old_table.id FROM old_table;
      RETURN NULL;
    END
    $$;
    CREATE TRIGGER ci_builds_loose_fk_trigger AFTER DELETE ON public.ci_builds
      REFERENCING OLD TABLE AS old_table FOR EACH STATEMENT EXECUTE FUNCTION public.insert_into_loose_foreign_keys_deleted_records();
    CREATE FUNCTION public.audit_ci_builds() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO public.audit_events (what) VALUES ('ci_builds changed');
      RETURN NULL;
    END
    $$;
    CREATE TRIGGER ci_builds_audit AFTER UPDATE ON public.ci_builds FOR EACH STATEMENT EXECUTE FUNCTION public.audit_ci_builds();
    CREATE FUNCTION public.find_ci_builds_by_id(ci_builds_id bigint) RETURNS public.ci_builds
      LANGUAGE plpgsql STABLE PARALLEL SAFE COST 1
      AS $$ BEGIN RETURN (SELECT ci_builds FROM ci_builds WHERE id = ci_builds_id LIMIT 1); END; $$;
    GRANT EXECUTE ON FUNCTION public.find_ci_builds_by_id(bigint) TO ${reader};
    GRANT SELECT ON public.ci_builds TO ${reader};
    GRANT SELECT (name) ON public.ci_builds TO ${ghost};

    -- Publications: a column list and a row filter, a schema published whole, one over both
    -- services' tables, one of all tables; each with its own options.
    CREATE PUBLICATION film_titles FOR TABLE app.film (film_id, title) WHERE (film_id > 0), app.actor WITH (publish = 'insert');
    CREATE PUBLICATION app_schema FOR TABLES IN SCHEMA app WITH (publish_via_partition_root = true);
    CREATE PUBLICATION cross_service FOR TABLE public.ci_builds, public.audit_events;
    CREATE PUBLICATION every_table FOR ALL TABLES WITH (publish = 'insert, update, delete');

    INSERT INTO app.actor (name) VALUES ('Penelope'), ('Nick'), ('Ed');
    INSERT INTO app.film (title, rating) VALUES ('Academy Dinosaur', 'PG'), ('Ace Goldfinger', 'G'), ('Adaptation Holes', 'R');
    INSERT INTO app.film_actor VALUES (1, 1), (2, 1), (3, 2);
    INSERT INTO public.ci_builds (name) SELECT 'build ' || g FROM generate_series(1, 5) g;
    DELETE FROM public.ci_builds WHERE name = 'build 5';`;
}

/** A source database with `objectsSql`, a manifest splitting it into `rental` and `ci`, and the CLI's environment. */
export interface ObjectsFixture {
  prefix: string;
  dir: string;
  manifestFile: string;
  planFile: string;
  env: NodeJS.ProcessEnv;
  sourceUrl: string;
  roles: { reader: string; ghost: string };
  /** Superuser URLs of the two service databases. */
  rentalUrl: string;
  ciUrl: string;
  cli(verb: string, ...args: string[]): Promise<CliResult>;
  cleanup(): Promise<void>;
}

export async function objectsFixture(opts: {
  source: string;
  target: string;
  /** Extra entries of each service (objects: ...). */
  objects?: { rental?: string[]; ci?: string[] };
}): Promise<ObjectsFixture> {
  const prefix = uniquePrefix();
  const roles = { reader: `${prefix}reader`, ghost: `${prefix}ghost` };
  const sameServer = withDatabase(opts.source, 'postgres') === withDatabase(opts.target, 'postgres');
  for (const server of sameServer ? [opts.source] : [opts.source, opts.target]) {
    await query(server, `CREATE ROLE ${q(roles.reader)} NOLOGIN`);
  }
  await query(opts.source, `CREATE ROLE ${q(roles.ghost)} NOLOGIN`);
  const sourceDb = `${prefix}rental_core`;
  await query(opts.source, `CREATE DATABASE ${q(sourceDb)}`);
  const sourceUrl = withDatabase(opts.source, sourceDb);
  await query(sourceUrl, objectsSql(roles));
  const dir = await mkdtemp(join(tmpdir(), 'cps-objects-'));
  const manifest = {
    version: 1,
    name: `${prefix}rental`.replaceAll('_', '-'),
    source: { url: '${SOURCE_URL}', schemas: ['public', 'app'] },
    control: { url: '${CONTROL_URL}' },
    servers: { target: '${TARGET_URL}' },
    services: {
      rental: {
        database: `${prefix}rental`,
        server: 'target',
        role: { name: `${prefix}rental_svc`, password: '${RENTAL_PASSWORD}' },
        tables: ['actor', 'film', 'film_actor', 'audit_events'],
        ...(opts.objects?.rental ? { objects: opts.objects.rental } : {}),
      },
      ci: {
        database: `${prefix}ci`,
        server: 'target',
        role: { name: `${prefix}ci_svc`, password: '${CI_PASSWORD}' },
        tables: ['ci_builds', 'loose_foreign_keys_deleted_records', 'ci_ticks', 'ci_stages', 'ci_stages_manual', 'ci_stages_auto'],
        ...(opts.objects?.ci ? { objects: opts.objects.ci } : {}),
      },
    },
  };
  const manifestFile = join(dir, 'split.yaml');
  await writeFile(manifestFile, stringify(manifest));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: '1',
    SOURCE_URL: sourceUrl,
    CONTROL_URL: withDatabase(opts.source, `${prefix}control`),
    TARGET_URL: withDatabase(opts.target, 'postgres'),
    RENTAL_PASSWORD: `pw-rental-${prefix}`,
    CI_PASSWORD: `pw-ci-${prefix}`,
  };
  const fx: ObjectsFixture = {
    prefix,
    dir,
    manifestFile,
    planFile: join(dir, 'split.plan.json'),
    env,
    sourceUrl,
    roles,
    rentalUrl: withDatabase(opts.target, `${prefix}rental`),
    ciUrl: withDatabase(opts.target, `${prefix}ci`),
    cli: (verb, ...args) => runCli([verb, '-m', manifestFile, ...args], env),
    async cleanup() {
      await dropTestDatabases([
        { server: opts.source, database: sourceDb },
        { server: opts.source, database: `${prefix}control` },
        { server: opts.target, database: `${prefix}rental` },
        { server: opts.target, database: `${prefix}ci` },
      ]);
      for (const server of sameServer ? [opts.source] : [opts.source, opts.target]) {
        for (const r of [roles.reader, roles.ghost, `${prefix}rental_svc`, `${prefix}ci_svc`]) {
          await query(server, `DROP ROLE IF EXISTS ${q(r)}`).catch(() => undefined);
        }
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  return fx;
}
