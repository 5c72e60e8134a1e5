import { describe, expect, it } from 'vitest';
import { hasSqlStandardBody, renderPostData, renderPreData, renderViews } from '../../../src/catalog/ddl.js';
import type { Catalog } from '../../../src/catalog/model.js';
import { catalog, column, constraint, functionDef, index, sequence, table, typeDef, view } from './model-builders.js';

/** A catalog with a bit of everything, built by hand. */
function sample(): Catalog {
  const mood = typeDef('app', 'mood', { ddl: [`CREATE TYPE "app"."mood" AS ENUM ('sad', 'meh')`], comment: 'feelings' });
  const isOk = functionDef('app', 'is_ok', {
    identityArgs: '"m" "app"."mood"',
    ddl: 'CREATE OR REPLACE FUNCTION "app"."is_ok"("m" "app"."mood") RETURNS boolean LANGUAGE sql AS $function$SELECT true$function$',
    dependsOn: ['app.mood'],
  });
  const okMood = typeDef('app', 'ok_mood', {
    kind: 'domain',
    ddl: [
      'CREATE DOMAIN "app"."ok_mood" AS "app"."mood" CONSTRAINT "c" CHECK ("app"."is_ok"(VALUE))',
      'ALTER DOMAIN "app"."ok_mood" ADD CONSTRAINT "later" CHECK ((VALUE IS NOT NULL)) NOT VALID',
    ],
    dependsOn: ['app.is_ok("m" "app"."mood")', 'app.mood'],
    extensions: ['citext'],
  });
  const touch = functionDef('app', 'touch', { ddl: 'CREATE OR REPLACE FUNCTION "app"."touch"() RETURNS trigger LANGUAGE plpgsql AS $function$BEGIN RETURN NEW; END$function$' });
  const users = table('app', 'users', {
    columns: [
      column('id', 'bigint', { notNull: true, identity: { kind: 'a', sequence: 'app.users_id_seq' } }),
      column('name', '"text"', { notNull: true, collation: '"pg_catalog"."C"', default: `''::"text"`, statistics: 500, comment: `it's "the" name` }),
      column('feel', '"app"."ok_mood"', { typeKey: 'app.ok_mood', storage: 'EXTERNAL', compression: 'lz4', options: ['n_distinct=100'] }),
      column('double', 'integer', { generated: { kind: 's', expression: '("id" * 2)' } }),
      column('virt', 'integer', { generated: { kind: 'v', expression: '("id" * 3)' } }),
    ],
    constraints: [
      constraint('users_pkey', 'p', `PRIMARY KEY ("id") WITH (fillfactor='70')`, { columns: ['id'], index: 'users_pkey' }),
      constraint('users_name_key', 'u', 'UNIQUE ("name") DEFERRABLE INITIALLY DEFERRED', { columns: ['name'], index: 'users_name_key', deferrable: true, deferred: true, comment: 'one name' }),
      constraint('users_name_len', 'c', 'CHECK (("length"("name") < 20))', { columns: ['name'] }),
      constraint('users_later', 'c', 'CHECK (("id" > 0)) NOT VALID', { validated: false }),
    ],
    indexes: [
      index('users_pkey', `CREATE UNIQUE INDEX "users_pkey" ON "app"."users" USING "btree" ("id") WITH ("fillfactor"='70')`, { constraint: 'users_pkey', unique: true, primary: true }),
      index('users_name_key', 'CREATE UNIQUE INDEX "users_name_key" ON "app"."users" USING "btree" ("name")', { constraint: 'users_name_key', unique: true }),
      index('users_lower_idx', 'CREATE INDEX "users_lower_idx" ON "app"."users" USING "btree" ("lower"("name"))', { clustered: true, comment: 'by name' }),
    ],
    triggers: [
      { name: 'users_touch', definition: 'CREATE TRIGGER "users_touch" BEFORE UPDATE ON "app"."users" FOR EACH ROW EXECUTE FUNCTION "app"."touch"()', enabled: 'R', function: 'app.touch()', comment: 'fresh' },
    ],
    policies: [{ name: 'own', definition: 'CREATE POLICY "own" ON "app"."users" AS PERMISSIVE FOR ALL TO PUBLIC USING (true)', roles: ['public'], comment: null }],
    rowSecurity: true,
    forceRowSecurity: true,
    replicaIdentity: 'f',
    reloptions: ['fillfactor=80'],
    toastReloptions: ['autovacuum_enabled=false'],
    comment: 'people',
    dependsOn: { types: ['app.ok_mood'], functions: ['app.touch()'], sequences: ['app.users_id_seq', 'app.ticket_seq'], extensions: ['citext'] },
  });
  const devices = table('app', 'devices', {
    columns: [
      column('id', 'integer', { notNull: true, default: `"nextval"('"app"."devices_id_seq"'::"regclass")` }),
      column('user_id', 'bigint', { notNull: true }),
      column('owner_id', 'bigint'),
    ],
    constraints: [
      constraint('devices_user_fk', 'f', 'FOREIGN KEY ("user_id") REFERENCES "app"."users"("id") DEFERRABLE', {
        columns: ['user_id'], references: { table: { schema: 'app', name: 'users' }, columns: ['id'] }, comment: 'owner',
      }),
      constraint('devices_owner_fk', 'f', 'FOREIGN KEY ("owner_id") REFERENCES "other"."owners"("id")', {
        columns: ['owner_id'], references: { table: { schema: 'other', name: 'owners' }, columns: ['id'] },
      }),
    ],
    dependsOn: { types: [], functions: [], sequences: ['app.devices_id_seq'], extensions: [] },
  });
  const events = table('app', 'events', {
    kind: 'p',
    partitionKey: 'RANGE ("at")',
    columns: [column('id', 'bigint', { notNull: true }), column('at', 'date', { notNull: true, default: 'CURRENT_DATE' })],
    constraints: [
      constraint('events_pkey', 'p', 'PRIMARY KEY ("id", "at")', { columns: ['id', 'at'], index: 'events_pkey' }),
      constraint('events_dev_fk', 'f', 'FOREIGN KEY ("id") REFERENCES "app"."devices"("id")', { references: { table: { schema: 'app', name: 'devices' }, columns: ['id'] } }),
    ],
    indexes: [
      index('events_pkey', 'CREATE UNIQUE INDEX "events_pkey" ON ONLY "app"."events" USING "btree" ("id", "at")', { constraint: 'events_pkey', unique: true, primary: true }),
      index('events_at_idx', 'CREATE INDEX "events_at_idx" ON ONLY "app"."events" USING "btree" ("at")'),
    ],
    triggers: [{ name: 'ev_touch', definition: 'CREATE TRIGGER "ev_touch" AFTER INSERT ON "app"."events" FOR EACH ROW EXECUTE FUNCTION "app"."touch"()', enabled: 'O', function: 'app.touch()', comment: null }],
  });
  const events2024 = table('app', 'events_2024', {
    partitionOf: { parent: { schema: 'app', name: 'events' }, bound: `FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')` },
    columns: [
      column('id', 'bigint', { notNull: true, inherited: true }),
      column('at', 'date', { notNull: true, default: `'2024-06-01'::date`, inherited: true }),
    ],
    constraints: [
      constraint('events_2024_pkey', 'p', 'PRIMARY KEY ("id", "at")', { columns: ['id', 'at'], index: 'events_2024_pkey', inherited: true }),
      constraint('events_dev_fk', 'f', 'FOREIGN KEY ("id") REFERENCES "app"."devices"("id")', { inherited: true, references: { table: { schema: 'app', name: 'devices' }, columns: ['id'] } }),
      constraint('inherited_check', 'c', 'CHECK (true)', { inherited: true }),
      constraint('own_check', 'c', 'CHECK (("id" > 0))'),
    ],
    indexes: [
      index('events_2024_pkey', 'CREATE UNIQUE INDEX "events_2024_pkey" ON "app"."events_2024" USING "btree" ("id", "at")', { constraint: 'events_2024_pkey', parentIndex: { schema: 'app', name: 'events_pkey' } }),
      index('events_2024_at_idx', 'CREATE INDEX "events_2024_at_idx" ON "app"."events_2024" USING "btree" ("at")', { parentIndex: { schema: 'app', name: 'events_at_idx' } }),
    ],
    triggers: [{ name: 'ev_touch', definition: 'CREATE TRIGGER "ev_touch" AFTER INSERT ON "app"."events_2024" FOR EACH ROW EXECUTE FUNCTION "app"."touch"()', enabled: 'D', function: 'app.touch()', comment: null, inherited: true }],
  });
  const odd = table('public', 'Odd "T" Name', {
    persistence: 'u',
    columns: [column('Mixed', '"text"', { comment: 'back\\slash' })],
  });
  return catalog({
    schemas: ['app', 'public'],
    tables: [devices, events, events2024, odd, users],
    types: [mood, okMood],
    functions: [isOk, touch],
    extensions: [{ name: 'citext', schema: 'public', version: '1.6' }],
    sequences: [
      sequence('app', 'devices_id_seq', { dataType: 'integer', max: '2147483647', ownedBy: { table: { schema: 'app', name: 'devices' }, column: 'id' } }),
      sequence('app', 'ticket_seq', { start: '1000', increment: '10', min: '10', max: '99999', cache: '5', cycle: true, comment: 'tickets' }),
      sequence('app', 'users_id_seq', { start: '100', increment: '5', identity: true, ownedBy: { table: { schema: 'app', name: 'users' }, column: 'id' }, comment: 'ids' }),
    ],
    views: [
      view('app', 'v_users', { definition: ' SELECT "users"."id" FROM "app"."users";', dependsOn: ['app.users'], comment: 'a view' }),
      view('app', 'a_top', { definition: ' SELECT "v_users"."id" FROM "app"."v_users";', dependsOn: ['app.v_users'], options: ['security_barrier=true'], uses: { types: [], functions: ['app.touch()'], extensions: [] } }),
      view('app', 'counts', { materialized: true, definition: ' SELECT count(*) AS "n" FROM "app"."users";', dependsOn: ['app.users'] }),
    ],
  });
}

const ALL = ['app.devices', 'app.events', 'app.events_2024', 'app.users', 'public.Odd "T" Name'];

describe('renderPreData', () => {
  const pre = renderPreData(sample(), ALL);
  const at = (prefix: string) => pre.findIndex((s) => s.startsWith(prefix));

  it('creates schemas and extensions first, public excepted', () => {
    expect(pre.slice(0, 2)).toEqual(['CREATE SCHEMA IF NOT EXISTS "app"', 'CREATE EXTENSION IF NOT EXISTS "citext" WITH SCHEMA "public"']);
    expect(pre).not.toContain('CREATE SCHEMA IF NOT EXISTS "public"');
  });

  it('creates types and functions in dependency order, function bodies unchecked', () => {
    expect(at('SET check_function_bodies = false')).toBeLessThan(at('CREATE OR REPLACE FUNCTION "app"."is_ok"'));
    expect(at('CREATE TYPE "app"."mood"')).toBeLessThan(at('CREATE OR REPLACE FUNCTION "app"."is_ok"'));
    expect(at('CREATE OR REPLACE FUNCTION "app"."is_ok"')).toBeLessThan(at('CREATE DOMAIN "app"."ok_mood"'));
    expect(pre).toContain(`COMMENT ON TYPE "app"."mood" IS 'feelings'`);
    expect(pre.some((s) => s.startsWith('ALTER DOMAIN'))).toBe(false);
  });

  it('creates standalone and serial sequences with every option, not identity ones', () => {
    expect(pre).toContain('CREATE SEQUENCE "app"."ticket_seq" AS bigint START WITH 1000 INCREMENT BY 10 MINVALUE 10 MAXVALUE 99999 CACHE 5 CYCLE');
    expect(pre).toContain('CREATE SEQUENCE "app"."devices_id_seq" AS integer START WITH 1 INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 CACHE 1 NO CYCLE');
    expect(pre).toContain(`COMMENT ON SEQUENCE "app"."ticket_seq" IS 'tickets'`);
    expect(pre.some((s) => s.startsWith('CREATE SEQUENCE "app"."users_id_seq"'))).toBe(false);
    expect(at('CREATE SEQUENCE "app"."devices_id_seq"')).toBeLessThan(at('CREATE TABLE "app"."devices"'));
  });

  it('renders columns with identity options, generated columns, collation, defaults and NOT NULL', () => {
    expect(pre).toContain(
      'CREATE TABLE "app"."users" (\n' +
        '    "id" bigint GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME "app"."users_id_seq" START WITH 100 INCREMENT BY 5 MINVALUE 1 MAXVALUE 9223372036854775807 CACHE 1 NO CYCLE) NOT NULL,\n' +
        `    "name" "text" COLLATE "pg_catalog"."C" DEFAULT ''::"text" NOT NULL,\n` +
        '    "feel" "app"."ok_mood",\n' +
        '    "double" integer GENERATED ALWAYS AS (("id" * 2)) STORED,\n' +
        '    "virt" integer GENERATED ALWAYS AS (("id" * 3)) VIRTUAL,\n' +
        '    CONSTRAINT "users_name_len" CHECK (("length"("name") < 20))\n' +
        `) WITH (fillfactor='80', toast.autovacuum_enabled='false')`,
    );
    expect(pre).toContain(`COMMENT ON SEQUENCE "app"."users_id_seq" IS 'ids'`);
  });

  it('adds per-column settings and comments after the table', () => {
    expect(pre).toEqual(
      expect.arrayContaining([
        'ALTER TABLE ONLY "app"."users" ALTER COLUMN "name" SET STATISTICS 500',
        'ALTER TABLE ONLY "app"."users" ALTER COLUMN "feel" SET STORAGE EXTERNAL',
        'ALTER TABLE ONLY "app"."users" ALTER COLUMN "feel" SET COMPRESSION lz4',
        `ALTER TABLE ONLY "app"."users" ALTER COLUMN "feel" SET (n_distinct='100')`,
        `COMMENT ON TABLE "app"."users" IS 'people'`,
        `COMMENT ON COLUMN "app"."users"."name" IS 'it''s "the" name'`,
        `COMMENT ON COLUMN "public"."Odd ""T"" Name"."Mixed" IS E'back\\\\slash'`,
      ]),
    );
  });

  it('leaves keys, indexes, triggers, foreign keys and NOT VALID checks to the post-data', () => {
    const text = pre.join('\n');
    for (const word of ['PRIMARY KEY', 'UNIQUE', 'CREATE INDEX', 'CREATE TRIGGER', 'FOREIGN KEY', 'NOT VALID', 'POLICY']) {
      expect(text).not.toContain(word);
    }
  });

  it('creates partitions after their parent with PARTITION OF, keeping their own defaults and checks', () => {
    expect(at('CREATE TABLE "app"."events" (')).toBeLessThan(at('CREATE TABLE "app"."events_2024"'));
    expect(pre).toContain(
      'CREATE TABLE "app"."events_2024" PARTITION OF "app"."events" (\n' +
        `    "at" WITH OPTIONS DEFAULT '2024-06-01'::date,\n` +
        '    CONSTRAINT "own_check" CHECK (("id" > 0))\n' +
        `) FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`,
    );
    expect(pre.find((s) => s.startsWith('CREATE TABLE "app"."events" ('))).toMatch(/\) PARTITION BY RANGE \("at"\)$/);
  });

  it('creates a partition whose parent is not copied as a plain table with all its columns', () => {
    const alone = renderPreData(sample(), ['app.events_2024']);
    const create = alone.find((s) => s.startsWith('CREATE TABLE'))!;
    expect(create).not.toContain('PARTITION OF');
    expect(create).toContain('"id" bigint NOT NULL');
    expect(create).toContain('CONSTRAINT "inherited_check" CHECK (true)');
  });

  it('quotes odd names, keeps UNLOGGED and adds denormalized columns', () => {
    const extra = renderPreData(sample(), ['public.Odd "T" Name'], { extraColumns: { 'public.Odd "T" Name': [{ name: 'user name', type: 'text' }] } });
    expect(extra).toContain('CREATE UNLOGGED TABLE "public"."Odd ""T"" Name" (\n    "Mixed" "text",\n    "user name" text\n)');
    expect(extra.some((s) => s.startsWith('CREATE SCHEMA'))).toBe(false);
  });

  it('renders inheritance children with INHERITS and their own settings for inherited columns', () => {
    const parent = table('public', 'log', { columns: [column('at', 'date'), column('n', 'integer')] });
    const child = table('public', 'log_old', {
      inherits: [{ schema: 'public', name: 'log' }],
      columns: [
        column('at', 'date', { inherited: true, default: 'CURRENT_DATE' }),
        column('n', 'integer', { inherited: true, notNull: true }),
        column('archived', 'boolean'),
      ],
    });
    const out = renderPreData(catalog({ tables: [child, parent] }), ['public.log_old', 'public.log']);
    expect(out.indexOf(out.find((s) => s.startsWith('CREATE TABLE "public"."log" ('))!)).toBeLessThan(
      out.indexOf(out.find((s) => s.startsWith('CREATE TABLE "public"."log_old"'))!),
    );
    expect(out).toContain('CREATE TABLE "public"."log_old" (\n    "archived" boolean\n) INHERITS ("public"."log")');
    expect(out).toContain('ALTER TABLE ONLY "public"."log_old" ALTER COLUMN "at" SET DEFAULT CURRENT_DATE');
    expect(out).toContain('ALTER TABLE ONLY "public"."log_old" ALTER COLUMN "n" SET NOT NULL');
  });

  it('names NOT NULL constraints (18) only when the model keeps them', () => {
    const t = table('public', 't', {
      columns: [column('a', 'integer', { notNull: true }), column('b', 'integer', { notNull: true })],
      constraints: [constraint('b_named', 'n', 'NOT NULL "b" NO INHERIT', { columns: ['b'] })],
    });
    expect(renderPreData(catalog({ tables: [t] }), ['public.t'])).toContain(
      'CREATE TABLE "public"."t" (\n    "a" integer NOT NULL,\n    "b" integer CONSTRAINT "b_named" NOT NULL NO INHERIT\n)',
    );
  });

  it('refuses a table that is not in the catalog', () => {
    expect(() => renderPreData(sample(), ['app.nope'])).toThrow(/app\.nope/);
  });
});

describe('renderPostData', () => {
  const post = renderPostData(sample(), ALL);

  it('builds a plain table key as an index, then attaches it, keeping deferrability and index options', () => {
    expect(post.perTable['app.users']!.slice(0, 5)).toEqual([
      `CREATE UNIQUE INDEX "users_pkey" ON "app"."users" USING "btree" ("id") WITH ("fillfactor"='70')`,
      'ALTER TABLE ONLY "app"."users" ADD CONSTRAINT "users_pkey" PRIMARY KEY USING INDEX "users_pkey"',
      'CREATE UNIQUE INDEX "users_name_key" ON "app"."users" USING "btree" ("name")',
      'ALTER TABLE ONLY "app"."users" ADD CONSTRAINT "users_name_key" UNIQUE USING INDEX "users_name_key" DEFERRABLE INITIALLY DEFERRED',
      `COMMENT ON CONSTRAINT "users_name_key" ON "app"."users" IS 'one name'`,
    ]);
  });

  it('adds indexes, CLUSTER, REPLICA IDENTITY, NOT VALID checks, triggers, RLS and policies', () => {
    expect(post.perTable['app.users']!.slice(5)).toEqual([
      'CREATE INDEX "users_lower_idx" ON "app"."users" USING "btree" ("lower"("name"))',
      `COMMENT ON INDEX "app"."users_lower_idx" IS 'by name'`,
      'ALTER TABLE ONLY "app"."users" CLUSTER ON "users_lower_idx"',
      'ALTER TABLE ONLY "app"."users" REPLICA IDENTITY FULL',
      'ALTER TABLE ONLY "app"."users" ADD CONSTRAINT "users_later" CHECK (("id" > 0)) NOT VALID',
      'CREATE TRIGGER "users_touch" BEFORE UPDATE ON "app"."users" FOR EACH ROW EXECUTE FUNCTION "app"."touch"()',
      'ALTER TABLE "app"."users" ENABLE REPLICA TRIGGER "users_touch"',
      `COMMENT ON TRIGGER "users_touch" ON "app"."users" IS 'fresh'`,
      'ALTER TABLE "app"."users" ENABLE ROW LEVEL SECURITY',
      'ALTER TABLE "app"."users" FORCE ROW LEVEL SECURITY',
      'CREATE POLICY "own" ON "app"."users" AS PERMISSIVE FOR ALL TO PUBLIC USING (true)',
    ]);
  });

  it('renders a partition tree under its root: partitions first, parents attach them', () => {
    expect(post.perTable['app.events_2024']).toEqual([]);
    expect(post.perTable['app.events']).toEqual([
      'ALTER TABLE ONLY "app"."events_2024" ADD CONSTRAINT "events_2024_pkey" PRIMARY KEY ("id", "at")',
      'CREATE INDEX "events_2024_at_idx" ON "app"."events_2024" USING "btree" ("at")',
      'ALTER TABLE "app"."events" ADD CONSTRAINT "events_pkey" PRIMARY KEY ("id", "at")',
      'CREATE INDEX "events_at_idx" ON "app"."events" USING "btree" ("at")',
      'CREATE TRIGGER "ev_touch" AFTER INSERT ON "app"."events" FOR EACH ROW EXECUTE FUNCTION "app"."touch"()',
      'ALTER TABLE "app"."events_2024" DISABLE TRIGGER "ev_touch"',
    ]);
  });

  it('adds foreign keys inside the set only, not those a partition inherits', () => {
    expect(post.foreignKeys).toEqual([
      'ALTER TABLE ONLY "app"."devices" ADD CONSTRAINT "devices_user_fk" FOREIGN KEY ("user_id") REFERENCES "app"."users"("id") DEFERRABLE',
      `COMMENT ON CONSTRAINT "devices_user_fk" ON "app"."devices" IS 'owner'`,
      'ALTER TABLE "app"."events" ADD CONSTRAINT "events_dev_fk" FOREIGN KEY ("id") REFERENCES "app"."devices"("id")',
    ]);
  });

  it('lets the caller decide which foreign keys to keep', () => {
    const seen: string[] = [];
    const only = renderPostData(sample(), ALL, {
      keepForeignKey: (t, fk) => {
        seen.push(`${t.name}.${fk.name}`);
        return fk.name === 'devices_owner_fk';
      },
    });
    expect(only.foreignKeys).toEqual(['ALTER TABLE ONLY "app"."devices" ADD CONSTRAINT "devices_owner_fk" FOREIGN KEY ("owner_id") REFERENCES "other"."owners"("id")']);
    expect(seen).toEqual(['devices.devices_user_fk', 'devices.devices_owner_fk', 'events.events_dev_fk']);
  });

  it('sets serial sequence ownership, then the NOT VALID domain checks', () => {
    expect(post.sequenceOwnership).toEqual([
      'ALTER SEQUENCE "app"."devices_id_seq" OWNED BY "app"."devices"."id"',
      'ALTER DOMAIN "app"."ok_mood" ADD CONSTRAINT "later" CHECK ((VALUE IS NOT NULL)) NOT VALID',
    ]);
    expect(renderPostData(sample(), ['app.events', 'app.events_2024']).sequenceOwnership).toEqual([]);
  });
});

describe('renderViews', () => {
  it('creates views after the views they read, with options, comments and the functions they call', () => {
    expect(renderViews(sample(), ['app.a_top', 'app.counts', 'app.v_users'])).toEqual([
      'SET check_function_bodies = false',
      'CREATE OR REPLACE FUNCTION "app"."touch"() RETURNS trigger LANGUAGE plpgsql AS $function$BEGIN RETURN NEW; END$function$',
      'CREATE VIEW "app"."v_users" AS\nSELECT "users"."id" FROM "app"."users"',
      `COMMENT ON VIEW "app"."v_users" IS 'a view'`,
      `CREATE VIEW "app"."a_top" WITH (security_barrier='true') AS\nSELECT "v_users"."id" FROM "app"."v_users"`,
      'CREATE MATERIALIZED VIEW "app"."counts" AS\nSELECT count(*) AS "n" FROM "app"."users"\nWITH DATA',
    ]);
  });

  it('refuses an unknown view', () => {
    expect(() => renderViews(sample(), ['app.nope'])).toThrow(/app\.nope/);
  });
});

describe('hasSqlStandardBody', () => {
  const fn = (ddl: string) => ({ schema: 'app', name: 'f', identityArgs: '', ddl, dependsOn: [], comment: null });
  it('tells SQL-standard bodies from quoted ones, as pg_get_functiondef writes them', () => {
    expect(hasSqlStandardBody(fn('CREATE OR REPLACE FUNCTION app.f()\n RETURNS bigint\n LANGUAGE sql\n STABLE\nBEGIN ATOMIC\n SELECT 1;\nEND'))).toBe(true);
    expect(hasSqlStandardBody(fn('CREATE OR REPLACE FUNCTION app.f()\n RETURNS integer\n LANGUAGE sql\n IMMUTABLE\nRETURN 7'))).toBe(true);
    expect(hasSqlStandardBody(fn('CREATE OR REPLACE FUNCTION app.f()\n RETURNS trigger\n LANGUAGE plpgsql\nAS $function$\nBEGIN\n  RETURN NEW;\nEND\n$function$'))).toBe(false);
    expect(hasSqlStandardBody(fn("CREATE OR REPLACE FUNCTION app.f(a integer)\n RETURNS integer\n LANGUAGE sql\nAS $function$ SELECT a $function$"))).toBe(false);
    expect(hasSqlStandardBody(fn("CREATE OR REPLACE FUNCTION app.f(citext)\n RETURNS boolean\n LANGUAGE c\n IMMUTABLE STRICT\nAS '$libdir/citext', $function$citext_eq$function$"))).toBe(false);
  });
});
