import { describe, expect, it } from 'vitest';
import { bodyReferences, bodySearchPath, bodyTypes, nameParts, stringLiterals } from '../../../src/catalog/body-refs.js';
import { searchPathSchemas } from '../../../src/catalog/introspect-objects.js';

const seqs = [
  { schema: 'public', name: 'ci_builds_id_seq' },
  { schema: 'app', name: 'Ticket Seq' },
  { schema: 'app', name: 'orders_id_seq' },
];
const tables = [
  { schema: 'public', name: 'loose_foreign_keys_deleted_records' },
  { schema: 'public', name: 'audit' },
  { schema: 'app', name: 'orders' },
];

describe('bodyReferences', () => {
  it('names the tables it writes to in a schema outside the catalog\'s, qualified, not those of the server\'s own schemas', () => {
    const body = `BEGIN
      INSERT INTO outbox.messages (topic) VALUES ('x');
      INSERT INTO "Outbox"."Queue" VALUES (1);
      UPDATE app.orders SET n = 1;
      INSERT INTO pg_temp.scratch VALUES (1);
      INSERT INTO unknown_unqualified VALUES (1);
      SELECT * FROM audit_log.entries;
    END`;
    const refs = bodyReferences(body, ['public'], seqs, tables, ['public', 'app']);
    expect(refs.outside).toEqual(['Outbox.Queue', 'outbox.messages']);
    expect(refs.writes).toEqual(['app.orders']);
    // Without the schemas given, the catalog's tables' own schemas are the catalog's.
    expect(bodyReferences(body, ['public'], seqs, tables).outside).toEqual(['Outbox.Queue', 'outbox.messages']);
  });

  it('finds sequences named in string literals, qualified, quoted or through the search path', () => {
    const body = `BEGIN
      NEW.id := nextval('ci_builds_id_seq'::regclass);
      NEW.t := nextval('app."Ticket Seq"');
      PERFORM setval('APP.ORDERS_ID_SEQ', 1);
      RAISE NOTICE 'it''s not a sequence: %', 'nothing_here';
    END`;
    expect(bodyReferences(body, ['public'], seqs, tables).sequences).toEqual(['app.Ticket Seq', 'app.orders_id_seq', 'public.ci_builds_id_seq']);
    expect(bodyReferences(`SELECT nextval('orders_id_seq')`, ['public'], seqs, tables).sequences).toEqual([]);
    expect(bodyReferences(`SELECT nextval('orders_id_seq')`, ['app', 'public'], seqs, tables).sequences).toEqual(['app.orders_id_seq']);
  });

  it('finds the tables a body writes to, not the ones it reads or names in strings and comments', () => {
    const body = `BEGIN
      IF TG_OP = 'UPDATE' THEN RETURN NEW; END IF;
      -- INSERT INTO audit is done elsewhere
      INSERT INTO loose_foreign_keys_deleted_records (a) SELECT id FROM app.orders;
      UPDATE ONLY "app"."orders" SET x = 1;
      SELECT * FROM audit FOR UPDATE SKIP LOCKED;
      RAISE NOTICE 'DELETE FROM audit';
    END`;
    expect(bodyReferences(body, ['public'], seqs, tables).writes).toEqual(['app.orders', 'public.loose_foreign_keys_deleted_records']);
    expect(bodyReferences('DELETE FROM audit WHERE true; TRUNCATE TABLE app.orders', ['public'], seqs, tables).writes).toEqual(['app.orders', 'public.audit']);
  });

  it('finds the tables a body only reads: after FROM, JOIN and USING, not the ones it writes, not other words after FROM', () => {
    const body = `DECLARE n int;
    BEGIN
      SELECT count(*) INTO STRICT n FROM ONLY audit a INNER JOIN app.orders o ON o.id = a.id;
      n := EXTRACT(EPOCH FROM now()) + position('x' IN substring('abc' FROM 2));
      DELETE FROM loose_foreign_keys_deleted_records d USING "app"."orders" WHERE d.id = n;
      -- SELECT 1 FROM audit_comment_only
      RAISE NOTICE 'FROM nothing_here';
    END`;
    const refs = bodyReferences(body, ['public'], seqs, tables);
    expect(refs.reads).toEqual(['app.orders', 'public.audit']);
    expect(refs.writes).toEqual(['public.loose_foreign_keys_deleted_records']);
    // Written and read: listed once, as a write.
    expect(bodyReferences('UPDATE audit SET x = 1 FROM audit b', ['public'], seqs, tables)).toMatchObject({ writes: ['public.audit'], reads: [] });
    // A declaration that takes a table's row type or a column's type needs the table as much as a read does.
    expect(bodyReferences('DECLARE r app.orders%ROWTYPE; a public.audit.id %type; BEGIN END', ['public'], seqs, tables).reads).toEqual(['app.orders', 'public.audit']);
    // Unqualified names go through the function's search path.
    expect(bodyReferences('SELECT 1 FROM orders', ['public'], seqs, tables).reads).toEqual([]);
    expect(bodyReferences('SELECT 1 FROM orders', ['app', 'public'], seqs, tables).reads).toEqual(['app.orders']);
  });

  it('reads literals and comments as the server does: an apostrophe in a comment hides nothing after it', () => {
    // MusicBrainz's set_recordings_first_release_dates: "-- it's" once paired with the next literal's quote.
    const body = `BEGIN
      -- Only the recording's rows: it's what the trigger needs
      INSERT INTO app.orders SELECT * FROM audit WHERE x = format('id=%s', 1);
      /* a block /* nested */ with it's own quote */ DELETE FROM loose_foreign_keys_deleted_records;
      RAISE NOTICE E'it\\'s fine: %', "odd ""--name""";
      PERFORM nextval('ci_builds_id_seq');
    END`;
    const refs = bodyReferences(body, ['public'], seqs, tables);
    expect(refs.writes).toEqual(['app.orders', 'public.loose_foreign_keys_deleted_records']);
    expect(refs.reads).toEqual(['public.audit']);
    expect(refs.sequences).toEqual(['public.ci_builds_id_seq']);
    expect(stringLiterals(body)).toEqual(['id=%s', "it's fine: %", 'ci_builds_id_seq']);
  });

  it('says when a body runs SQL built at run time, whose names it cannot read', () => {
    const dynamic = (body: string) => bodyReferences(body, ['public'], seqs, tables).dynamic;
    expect(dynamic(`BEGIN EXECUTE format('UPDATE app.%I SET n = n + 1', kind || '_meta'); END`)).toBe(true);
    expect(dynamic(`BEGIN FOR r IN EXECUTE 'SELECT 1' LOOP END LOOP; END`)).toBe(true);
    expect(dynamic(`BEGIN PERFORM 1; -- EXECUTE in a comment\n RAISE NOTICE 'EXECUTE in a literal'; END`)).toBe(false);
    expect(dynamic(`SELECT 1 FROM audit`)).toBe(false);
  });

  it('does not take a common table expression for the table it is named after, in its own statement only', () => {
    const path = ['app', 'public'];
    // The CTEs `orders` and `audit` hide the tables of the same names in the statement that defines them.
    const own = `WITH RECURSIVE orders (id) AS (SELECT 1), "audit" AS MATERIALIZED (SELECT 2) SELECT * FROM orders JOIN audit USING (id)`;
    expect(bodyReferences(own, path, seqs, tables).reads).toEqual([]);
    // Qualified, the name is the table's; in the next statement, the CTE is gone.
    expect(bodyReferences(`WITH orders AS (SELECT 1) SELECT * FROM app.orders`, path, seqs, tables).reads).toEqual(['app.orders']);
    expect(bodyReferences(`BEGIN WITH orders AS (SELECT 1) SELECT 1; PERFORM 1 FROM orders; END`, path, seqs, tables).reads).toEqual(['app.orders']);
    // A CTE over the real table still reads it.
    expect(bodyReferences(`WITH recent AS (SELECT * FROM orders) SELECT * FROM recent`, path, seqs, tables).reads).toEqual(['app.orders']);
  });

  it('finds the types a body names in casts and plpgsql declarations, not in literals, comments or other words', () => {
    const types = [
      { schema: 'public', name: 'app_role' },
      { schema: 'public', name: 'mood' },
      { schema: 'app', name: 'money_amount' },
      { schema: 'app', name: 'unused' },
    ];
    const body = `DECLARE
      user_role public.app_role;
      amount app.money_amount := 0;
      moods mood[] DEFAULT '{}';
    BEGIN
      SELECT (auth.jwt() ->> 'user_role')::public.APP_ROLE INTO user_role;
      RAISE NOTICE '%', 'y::app.unused'; -- z::app.unused
      RETURN NEW;
    END`;
    expect(bodyTypes(body, ['public'], types)).toEqual(['app.money_amount', 'public.app_role', 'public.mood']);
    expect(bodyTypes(`SELECT 1::unused`, ['public'], types)).toEqual([]);
    expect(bodyTypes(`SELECT 1::unused`, ['app', 'public'], types)).toEqual(['app.unused']);
  });

  it('reads names as the server does', () => {
    expect(nameParts('Public.Users')).toEqual(['public', 'users']);
    expect(nameParts('"A""b"."c.d"')).toEqual(['A"b', 'c.d']);
    expect(nameParts('a.b.c')).toBeNull();
    expect(nameParts('not a name')).toBeNull();
    expect(stringLiterals(`'a''b', 'c'`)).toEqual(["a'b", 'c']);
    expect(bodySearchPath('app', null)).toEqual(['app', 'public']);
    expect(bodySearchPath('app', ['$user', 'ci'])).toEqual(['ci']);
  });
});

describe('searchPathSchemas', () => {
  it('splits a stored search_path at commas outside quotes and unquotes', () => {
    expect(searchPathSchemas('musicbrainz, public')).toEqual(['musicbrainz', 'public']);
    expect(searchPathSchemas('"Odd, Schemas", "a""b",pg_temp')).toEqual(['Odd, Schemas', 'a"b', 'pg_temp']);
    expect(searchPathSchemas('""')).toEqual([]);
  });
});
