import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { introspect } from '../../src/catalog/introspect.js';
import { renderPostData, renderPreData, renderViews } from '../../src/catalog/ddl.js';
import { privilegeStatements } from '../../src/catalog/ddl-privileges.js';
import { dependencyClosure } from '../../src/catalog/closure.js';
import type { Catalog } from '../../src/catalog/model.js';
import { functionKey, tableKey } from '../../src/catalog/model.js';
import { PG15_BIN } from '../harness/global-setup.js';
import { carriedPublications } from '../../src/plan/publications.js';
import { collationSql } from '../../src/plan/collations.js';

/**
 * A schema exercising every feature the schema copy handles, as separate
 * statements batches (ALTER TYPE ... ADD VALUE must commit before the value is used).
 * `role` is a NOLOGIN role the test created (a policy names it).
 */
export function featureSql(role: string): string[] {
  const r = `"${role}"`;
  return [
    `CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public;
     CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public;
     CREATE SCHEMA app;
     CREATE TYPE app.mood AS ENUM ('sad', 'happy');
     COMMENT ON TYPE app.mood IS 'how it feels';`,
    `ALTER TYPE app.mood ADD VALUE 'meh' BEFORE 'happy'`,
    `CREATE DOMAIN app.email AS public.citext CONSTRAINT email_has_at CHECK (VALUE ~ '@');
     COMMENT ON DOMAIN app.email IS 'an e-mail address';
     CREATE DOMAIN app.positive_int AS integer NOT NULL DEFAULT 1 CHECK (VALUE > 0);
     ALTER DOMAIN app.positive_int ADD CONSTRAINT positive_int_small CHECK (VALUE < 1000000) NOT VALID;
     CREATE TYPE app.address AS (street text, zip character varying(10), tags app.mood[]);
     COMMENT ON TYPE app.address IS 'postal address';
     CREATE FUNCTION app.float_diff(a double precision, b double precision) RETURNS double precision
       LANGUAGE sql IMMUTABLE STRICT AS 'SELECT a - b';
     CREATE TYPE app.floatrange AS RANGE (subtype = double precision, subtype_diff = app.float_diff);
     CREATE FUNCTION app.next_code() RETURNS text LANGUAGE sql VOLATILE AS $$ SELECT 'C-' || floor(random() * 1000)::int $$;
     COMMENT ON FUNCTION app.next_code() IS 'a code generator';
     CREATE FUNCTION app.is_even(n integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT n % 2 = 0';
     CREATE FUNCTION app.lower_trim(t text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT lower(trim(t))';
     CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       NEW.updated_at := now();
       RETURN NEW;
     END
     $$;
     CREATE FUNCTION app.audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
     CREATE FUNCTION app.owner_ok(o text) RETURNS boolean LANGUAGE sql STABLE AS 'SELECT o = current_user';
     CREATE SEQUENCE app.ticket_seq AS integer START WITH 1000 INCREMENT BY 10 MINVALUE 10 MAXVALUE 9999999 CACHE 5 CYCLE;
     COMMENT ON SEQUENCE app.ticket_seq IS 'ticket numbers';

     CREATE TABLE app.users (
       id bigint GENERATED ALWAYS AS IDENTITY (START WITH 100 INCREMENT BY 5 MINVALUE 50 MAXVALUE 1000000 CACHE 10),
       email app.email NOT NULL,
       name text COLLATE "C" NOT NULL DEFAULT '',
       mood app.mood DEFAULT 'meh',
       moods app.mood[] NOT NULL DEFAULT '{}',
       home app.address,
       "system_user" text DEFAULT CURRENT_USER,
       code text DEFAULT app.next_code(),
       age app.positive_int,
       doc jsonb,
       raw json,
       loc point,
       owner text NOT NULL DEFAULT CURRENT_USER,
       updated_at timestamptz NOT NULL DEFAULT now(),
       CONSTRAINT users_pkey PRIMARY KEY (id) WITH (fillfactor = 70),
       CONSTRAINT users_email_key UNIQUE (email) DEFERRABLE INITIALLY DEFERRED,
       CONSTRAINT users_age_even CHECK (app.is_even(age))
     ) WITH (fillfactor = 80, autovacuum_enabled = false);
     COMMENT ON TABLE app.users IS 'people';
     COMMENT ON COLUMN app.users.email IS 'login e-mail';
     COMMENT ON CONSTRAINT users_email_key ON app.users IS 'one account per address';
     COMMENT ON CONSTRAINT users_age_even ON app.users IS 'even ages only';
     COMMENT ON INDEX app.users_pkey IS 'the key index';
     ALTER TABLE app.users ALTER COLUMN name SET STATISTICS 500;
     ALTER TABLE app.users ALTER COLUMN doc SET STORAGE EXTERNAL;
     ALTER TABLE app.users ALTER COLUMN raw SET COMPRESSION pglz;
     ALTER TABLE app.users ALTER COLUMN age SET (n_distinct = 100);
     CREATE INDEX users_lower_name_idx ON app.users (app.lower_trim(name));
     CREATE INDEX users_name_partial_idx ON app.users (name text_pattern_ops DESC NULLS LAST) WHERE mood <> 'sad';
     CREATE UNIQUE INDEX users_code_incl_idx ON app.users (code) INCLUDE (name) WITH (fillfactor = 60);
     COMMENT ON INDEX app.users_code_incl_idx IS 'codes are unique';
     ALTER TABLE app.users CLUSTER ON users_code_incl_idx;
     ALTER TABLE app.users ADD CONSTRAINT users_name_len CHECK (length(name) < 200) NOT VALID;
     COMMENT ON CONSTRAINT users_name_len ON app.users IS 'checked for new rows only';
     CREATE TRIGGER users_touch BEFORE UPDATE ON app.users FOR EACH ROW EXECUTE FUNCTION app.touch();
     COMMENT ON TRIGGER users_touch ON app.users IS 'keeps updated_at fresh';
     CREATE TRIGGER users_audit AFTER INSERT OR DELETE ON app.users FOR EACH STATEMENT EXECUTE FUNCTION app.audit();
     ALTER TABLE app.users ENABLE REPLICA TRIGGER users_audit;
     ALTER TABLE app.users ENABLE ROW LEVEL SECURITY;
     ALTER TABLE app.users FORCE ROW LEVEL SECURITY;
     CREATE POLICY users_own ON app.users AS PERMISSIVE FOR SELECT TO ${r} USING (app.owner_ok(owner));
     CREATE POLICY users_write ON app.users AS RESTRICTIVE FOR UPDATE USING (owner = current_user) WITH CHECK (owner = current_user);
     COMMENT ON POLICY users_own ON app.users IS 'owners read their rows';

     CREATE TABLE app.devices (
       id serial PRIMARY KEY,
       user_id bigint NOT NULL REFERENCES app.users (id) ON DELETE CASCADE DEFERRABLE,
       serial_no text NOT NULL,
       ticket integer DEFAULT nextval('app.ticket_seq'),
       qty integer NOT NULL DEFAULT 1,
       price numeric(10,2) NOT NULL DEFAULT 0,
       total numeric GENERATED ALWAYS AS (qty * price) STORED,
       nickname text,
       updated_at timestamptz NOT NULL DEFAULT now(),
       CONSTRAINT devices_serial_user_key UNIQUE (user_id, serial_no),
       CONSTRAINT devices_qty_check CHECK (qty > 0)
     );
     ALTER TABLE app.devices ALTER COLUMN nickname SET STORAGE MAIN;
     COMMENT ON CONSTRAINT devices_user_id_fkey ON app.devices IS 'the owner';
     CREATE TRIGGER devices_touch BEFORE UPDATE ON app.devices FOR EACH ROW EXECUTE FUNCTION app.touch();
     CREATE TRIGGER devices_audit AFTER UPDATE OF qty ON app.devices FOR EACH ROW
       WHEN (OLD.qty IS DISTINCT FROM NEW.qty) EXECUTE FUNCTION app.audit();
     ALTER TABLE app.devices DISABLE TRIGGER devices_audit;
     ALTER TABLE app.devices REPLICA IDENTITY FULL;

     CREATE TABLE app.device_ports (
       port_id bigint GENERATED BY DEFAULT AS IDENTITY (START WITH 7 INCREMENT BY -1 MINVALUE -100 MAXVALUE 7 NO CYCLE),
       a_serial text NOT NULL,
       a_user bigint NOT NULL,
       label text,
       CONSTRAINT device_ports_pkey PRIMARY KEY (port_id),
       CONSTRAINT device_ports_dev_fk FOREIGN KEY (a_serial, a_user) REFERENCES app.devices (serial_no, user_id)
         MATCH FULL ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED
     );
     CREATE UNIQUE INDEX device_ports_label_idx ON app.device_ports (label);
     ALTER TABLE app.device_ports ALTER COLUMN label SET NOT NULL;
     ALTER TABLE app.device_ports REPLICA IDENTITY USING INDEX device_ports_label_idx;

     CREATE TABLE app.bookings (
       id integer PRIMARY KEY,
       room integer NOT NULL,
       during tstzrange NOT NULL,
       span app.floatrange,
       CONSTRAINT bookings_no_overlap EXCLUDE USING gist (room WITH =, during WITH &&)
     );
     COMMENT ON CONSTRAINT bookings_no_overlap ON app.bookings IS 'no double booking';
     CREATE TABLE app.tags (
       a integer,
       b integer,
       CONSTRAINT tags_ab UNIQUE NULLS NOT DISTINCT (a, b)
     );

     CREATE TABLE app.events (
       id bigint NOT NULL,
       happened_at timestamptz NOT NULL,
       device_id integer REFERENCES app.devices (id),
       kind text NOT NULL DEFAULT 'info',
       payload jsonb,
       CONSTRAINT events_pkey PRIMARY KEY (id, happened_at),
       CONSTRAINT events_kind_check CHECK (kind <> '')
     ) PARTITION BY RANGE (happened_at);
     COMMENT ON TABLE app.events IS 'partitioned events';
     CREATE INDEX events_kind_idx ON app.events (kind);
     CREATE INDEX events_payload_idx ON app.events USING gin (payload);
     CREATE TABLE app.events_2024 PARTITION OF app.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
     CREATE TABLE app.events_2025 PARTITION OF app.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01') PARTITION BY LIST (id);
     CREATE TABLE app.events_2025_low PARTITION OF app.events_2025 FOR VALUES IN (1, 2, 3);
     CREATE TABLE app.events_2025_other PARTITION OF app.events_2025 DEFAULT;
     CREATE TABLE app.events_default PARTITION OF app.events DEFAULT;
     ALTER TABLE app.events_default ALTER COLUMN kind SET DEFAULT 'other';
     ALTER TABLE app.events_2024 ADD CONSTRAINT events_2024_payload_check CHECK (payload IS NOT NULL);
     CREATE INDEX events_2024_local_idx ON app.events_2024 (device_id);
     CREATE TRIGGER events_audit AFTER INSERT ON app.events FOR EACH ROW EXECUTE FUNCTION app.audit();
     ALTER TABLE app.events_2024 DISABLE TRIGGER events_audit;

     CREATE TABLE public."Odd ""Table"" Name" (
       "Id" integer NOT NULL,
       "select" text,
       "Mixed Case" text DEFAULT 'x''y',
       CONSTRAINT "Odd ""PK""" PRIMARY KEY ("Id")
     );
     COMMENT ON TABLE public."Odd ""Table"" Name" IS 'it''s odd';
     COMMENT ON COLUMN public."Odd ""Table"" Name"."Mixed Case" IS 'back\\slash';
     CREATE UNLOGGED TABLE public.cache_entries (k text NOT NULL, v bytea) WITH (toast.autovacuum_enabled = false);
     CREATE TABLE public.log_lines (line text, at timestamptz DEFAULT now(), n integer);
     CREATE TABLE public.log_lines_archive (
       archived boolean NOT NULL DEFAULT true,
       CONSTRAINT archive_n_positive CHECK (n > 0)
     ) INHERITS (public.log_lines);
     ALTER TABLE public.log_lines_archive ALTER COLUMN n SET NOT NULL;
     ALTER TABLE public.log_lines_archive ALTER COLUMN at SET DEFAULT '2000-01-01';

     CREATE VIEW app.user_devices AS SELECT u.id, u.email, d.serial_no FROM app.users u JOIN app.devices d ON d.user_id = u.id;
     COMMENT ON VIEW app.user_devices IS 'users and their devices';
     CREATE VIEW app.recent_user_devices WITH (security_barrier = true) AS
       SELECT * FROM app.user_devices WHERE app.lower_trim(serial_no) <> '';
     CREATE MATERIALIZED VIEW app.device_counts AS SELECT user_id, count(*) AS n FROM app.devices GROUP BY user_id;`,
    // SQL-standard bodies (14+) are checked at CREATE: one reading a table must follow it,
    // one a column default calls must precede it.
    `CREATE FUNCTION app.default_amount() RETURNS integer LANGUAGE sql IMMUTABLE RETURN 7;
     CREATE TABLE app.ledger (id integer PRIMARY KEY, amount integer NOT NULL DEFAULT app.default_amount());
     CREATE FUNCTION app.ledger_total() RETURNS bigint LANGUAGE sql STABLE
       BEGIN ATOMIC SELECT coalesce(sum(amount), 0) FROM app.ledger; END;
     ALTER TABLE app.ledger ENABLE ROW LEVEL SECURITY;
     CREATE POLICY ledger_total_positive ON app.ledger USING (app.ledger_total() >= 0);`,
  ];
}

/** PostgreSQL 18 only: VIRTUAL columns, named / NOT VALID / NO INHERIT NOT NULL, WITHOUT OVERLAPS, NOT ENFORCED. */
export const FEATURES_18_SQL = `
  CREATE TABLE app.v18 (
    id integer CONSTRAINT v18_id_named NOT NULL,
    a integer,
    b integer GENERATED ALWAYS AS (a * 2) VIRTUAL,
    c integer,
    valid tstzrange NOT NULL,
    CONSTRAINT v18_pk PRIMARY KEY (id, valid WITHOUT OVERLAPS),
    CONSTRAINT v18_c_check CHECK (c > 0) NOT ENFORCED
  );
  ALTER TABLE app.v18 ADD CONSTRAINT v18_c_not_null_nv NOT NULL c NOT VALID;
  CREATE TABLE app.renamed_before (x integer NOT NULL, y integer CONSTRAINT y_local NOT NULL NO INHERIT);
  ALTER TABLE app.renamed_before RENAME TO renamed_after;`;

export async function runAll(url: string, statements: string[]): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    for (const s of statements) {
      try {
        await c.query(s);
      } catch (err) {
        throw new Error(`${(err as Error).message}\n--- while running:\n${s}`, { cause: err });
      }
    }
  } finally {
    await c.end();
  }
}

export async function introspectUrl(url: string, schemas = ['app', 'public']): Promise<Catalog> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await introspect(c, schemas);
  } finally {
    await c.end();
  }
}

/**
 * Everything the copy runs for these tables and views, in order: pre-data (with the
 * functions, types and sequences named in `objects`), post-data, foreign keys, views,
 * then the privileges of all of it and of the catalog's schemas.
 */
export function renderAll(catalog: Catalog, tableKeys: string[], viewKeys: string[] = [], objects: string[] = []): string[] {
  const post = renderPostData(catalog, tableKeys);
  const closure = dependencyClosure(catalog, [...tableKeys, ...viewKeys, ...objects]);
  const schemas = (catalog.namespaces ?? []).map((n) => n.name);
  const pre = renderPreData(catalog, tableKeys, { objects });
  // The whole schema: every collation of the source, each after its schema (the plan gives a service only those it uses).
  const collations = catalog.collations ?? [];
  return [
    ...collations.flatMap(collationSql),
    ...pre,
    ...tableKeys.flatMap((k) => post.perTable[k] ?? []),
    ...post.foreignKeys,
    ...post.sequenceOwnership,
    ...renderViews(catalog, viewKeys),
    ...privilegeStatements(catalog, { tables: tableKeys, views: viewKeys, closure, schemas }).map((s) => s.sql),
    ...carriedPublications(catalog, new Set(tableKeys)).map((p) => p.sql),
  ];
}

/** Every function, type and sequence of a catalog: the `objects` that make renderAll recreate a whole schema. */
export const allObjects = (c: Catalog): string[] => [...c.functions.map(functionKey), ...c.types.map(tableKey), ...c.sequences.map(tableKey)];

export const allTables = (c: Catalog): string[] => c.tables.map(tableKey);
export const allViews = (c: Catalog): string[] => c.views.map(tableKey);

/** The catalog without what differs between two databases holding the same schema. */
export function comparable(c: Catalog): unknown {
  return {
    ...c,
    database: null,
    serverVersion: null,
    serverVersionNum: null,
    tables: c.tables.map((t) => ({ ...t, rowsEstimate: 0, bytes: 0 })),
  };
}

/** The pg_dump in `client` (default: PostgreSQL 15's, the oracle of a 15 server), or null when missing. */
export function pgDumpPath(client = PG15_BIN): string | null {
  const p = join(client, 'pg_dump');
  return existsSync(p) ? p : null;
}

/**
 * `pg_dump --schema-only` of a database with privileges and comments, normalised:
 * no comment lines, no SET or set_config lines, no ownership, no `\\restrict` keys,
 * single blank lines.
 */
export async function schemaDump(url: string, client = PG15_BIN): Promise<string> {
  const bin = pgDumpPath(client);
  if (!bin) throw new Error(`pg_dump not found in ${client}: install postgresql-client-15 (or the client of the server's major)`);
  const { stdout } = await promisify(execFile)(bin, ['--schema-only', '--no-owner', '-d', url], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout
    .split('\n')
    .filter((l) => !/^(--|\\restrict|\\unrestrict|SET |SELECT pg_catalog\.set_config)/.test(l) && !/OWNER TO/.test(l))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
