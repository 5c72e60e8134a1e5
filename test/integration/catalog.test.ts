import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { introspect } from '../../src/catalog/introspect.js';
import type { Catalog, Table } from '../../src/catalog/model.js';
import { tableKey } from '../../src/catalog/model.js';
import { dependencyClosure } from '../../src/catalog/closure.js';
import { renderPreData } from '../../src/catalog/ddl.js';
import { catalogFingerprint, tableFingerprint } from '../../src/catalog/fingerprint.js';
import { readSnapshot, writeSnapshot } from '../../src/catalog/snapshot.js';
import { createDatabase, pg15, query, servers, uniquePrefix } from '../harness/servers.js';
import {
  FEATURES_18_SQL,
  allTables,
  allViews,
  comparable,
  featureSql,
  introspectUrl,
  renderAll,
  runAll,
} from './catalog-features.js';

const table = (c: Catalog, key: string): Table => {
  const t = c.tables.find((x) => tableKey(x) === key);
  if (!t) throw new Error(`no table ${key}`);
  return t;
};
const column = (c: Catalog, key: string, name: string) => table(c, key).columns.find((x) => x.name === name)!;

/** Creates the feature schema in a new database of `server`; the role is created there too. */
async function featureDatabase(server: string, prefix: string, role: string, extra: string[] = []): Promise<string> {
  await query(server, `DO $$ BEGIN CREATE ROLE "${role}" NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  const url = await createDatabase(server, `${prefix}src`);
  await runAll(url, [...featureSql(role), ...extra]);
  return url;
}

describe('catalog introspection (PostgreSQL 18)', () => {
  const prefix = uniquePrefix();
  const role = `${prefix}reader`;
  let source: Catalog;

  beforeAll(async () => {
    const url = await featureDatabase(servers().main, prefix, role, [
      FEATURES_18_SQL,
      `CREATE SEQUENCE app.unused_seq; COMMENT ON SCHEMA app IS 'not copied'`,
    ]);
    source = await introspectUrl(url);
  });

  it('reads every table, view, sequence, type, function and extension, sorted', () => {
    expect(allTables(source)).toEqual([...allTables(source)].sort());
    expect(allTables(source)).toContain('app.events_2025_low');
    expect(allTables(source)).toContain('public.Odd "Table" Name');
    expect(allViews(source)).toEqual(['app.device_counts', 'app.recent_user_devices', 'app.user_devices']);
    expect(source.sequences.map(tableKey)).toEqual([
      'app.device_ports_port_id_seq',
      'app.devices_id_seq',
      'app.ticket_seq',
      'app.unused_seq',
      'app.users_id_seq',
    ]);
    expect(source.types.map((t) => `${tableKey(t)}:${t.kind}`)).toEqual([
      'app.address:composite',
      'app.email:domain',
      'app.floatrange:range',
      'app.mood:enum',
      'app.positive_int:domain',
    ]);
    expect(source.extensions.map((e) => e.name)).toEqual(['btree_gist', 'citext']);
    expect(source.serverVersionNum).toBeGreaterThanOrEqual(180000);
    expect(source.encoding).toBe('UTF8');
  });

  it('keeps enum labels in sort order, not OID order', () => {
    const mood = source.types.find((t) => t.name === 'mood')!;
    expect(mood.ddl).toEqual([`CREATE TYPE "app"."mood" AS ENUM ('sad', 'meh', 'happy')`]);
  });

  it('finds what each table needs, through arrays, domains, composites and functions', () => {
    const users = table(source, 'app.users');
    expect(users.dependsOn.types).toEqual(['app.address', 'app.email', 'app.mood', 'app.positive_int']);
    expect(users.dependsOn.extensions).toEqual(['citext']);
    expect(users.dependsOn.sequences).toEqual(['app.users_id_seq']);
    expect(users.dependsOn.functions).toEqual([
      'app.audit()',
      'app.is_even("n" integer)',
      'app.lower_trim("t" "text")',
      'app.next_code()',
      'app.owner_ok("o" "text")',
      'app.touch()',
    ]);
    const bookings = table(source, 'app.bookings');
    expect(bookings.dependsOn.extensions).toEqual(['btree_gist']);
    expect(bookings.dependsOn.types).toEqual(['app.floatrange']);
    expect(bookings.dependsOn.functions).toEqual(['app.float_diff("a" double precision, "b" double precision)']);
    expect(table(source, 'app.devices').dependsOn.sequences).toEqual(['app.devices_id_seq', 'app.ticket_seq']);
    const closure = dependencyClosure(source, ['app.users']);
    expect(closure.types.map((t) => t.name).indexOf('mood')).toBeLessThan(closure.types.map((t) => t.name).indexOf('address'));
  });

  it('flags column types for the copy and the checksum', () => {
    expect(column(source, 'app.users', 'mood').typeFlags).toEqual(['enum']);
    expect(column(source, 'app.users', 'moods').typeFlags).toEqual(['array', 'binary-unsafe', 'enum']);
    expect(column(source, 'app.users', 'home').typeFlags).toEqual(['binary-unsafe', 'composite', 'enum']);
    expect(column(source, 'app.users', 'raw').typeFlags).toEqual(['json', 'nohash']);
    expect(column(source, 'app.users', 'doc').typeFlags).toEqual(['json']);
    expect(column(source, 'app.users', 'loc').typeFlags).toEqual(['nohash']);
    expect(column(source, 'app.users', 'email').typeFlags).toEqual(['binary-unsafe', 'domain']);
    expect(column(source, 'app.users', 'name').typeFlags).toEqual([]);
    expect(column(source, 'app.users', 'email').typeKey).toBe('app.email');
    expect(column(source, 'app.users', 'moods').typeKey).toBe('app.mood');
  });

  it('reads columns, identity, generated columns and per-column settings', () => {
    const id = column(source, 'app.users', 'id');
    expect(id.identity).toEqual({ kind: 'a', sequence: 'app.users_id_seq' });
    expect(id.default).toBeNull();
    expect(column(source, 'app.devices', 'total').generated).toEqual({ kind: 's', expression: '(("qty")::numeric * "price")' });
    expect(column(source, 'app.v18', 'b').generated?.kind).toBe('v');
    expect(column(source, 'app.users', 'name').collation).toBe('"pg_catalog"."C"');
    expect(column(source, 'app.users', 'name').statistics).toBe(500);
    expect(column(source, 'app.users', 'doc').storage).toBe('EXTERNAL');
    expect(column(source, 'app.users', 'raw').compression).toBe('pglz');
    expect(column(source, 'app.users', 'age').options).toEqual(['n_distinct=100']);
    expect(column(source, 'app.users', 'system_user').default).toBe('CURRENT_USER');
    const seq = source.sequences.find((s) => s.name === 'users_id_seq')!;
    expect(seq).toMatchObject({ identity: true, start: '100', increment: '5', min: '50', max: '1000000', cache: '10' });
    expect(seq.ownedBy).toEqual({ table: { schema: 'app', name: 'users' }, column: 'id' });
  });

  it('keeps foreign key column pairing and rebuilds keys with their index options', () => {
    const fk = table(source, 'app.device_ports').constraints.find((c) => c.name === 'device_ports_dev_fk')!;
    expect(fk.columns).toEqual(['a_serial', 'a_user']);
    expect(fk.references).toEqual({ table: { schema: 'app', name: 'devices' }, columns: ['serial_no', 'user_id'] });
    expect(fk.deferrable && fk.deferred).toBe(true);
    const pk = table(source, 'app.users').constraints.find((c) => c.name === 'users_pkey')!;
    expect(pk.definition).toBe(`PRIMARY KEY ("id") WITH (fillfactor='70')`);
    const uq = table(source, 'app.tags').constraints.find((c) => c.name === 'tags_ab')!;
    expect(uq.definition).toBe('UNIQUE NULLS NOT DISTINCT ("a", "b")');
    const v18 = table(source, 'app.v18');
    expect(v18.constraints.find((c) => c.name === 'v18_pk')!.definition).toBe('PRIMARY KEY ("id", "valid" WITHOUT OVERLAPS)');
  });

  it('keeps 18 NOT NULL constraints only when a plain NOT NULL would not recreate them', () => {
    const names = (key: string) => table(source, key).constraints.filter((c) => c.type === 'n').map((c) => c.name);
    expect(names('app.v18')).toEqual(['v18_c_not_null_nv', 'v18_id_named']);
    expect(column(source, 'app.v18', 'c').notNull).toBe(false);
    expect(names('app.renamed_after')).toEqual(['renamed_before_x_not_null', 'y_local']);
    expect(names('app.users')).toEqual([]);
    expect(names('app.events_2024')).toEqual([]);
  });

  it('lists partitions, partition index attachments, trigger clones and inheritance', () => {
    const p = table(source, 'app.events_2025_low');
    expect(p.partitionOf).toEqual({ parent: { schema: 'app', name: 'events_2025' }, bound: `FOR VALUES IN ('1', '2', '3')` });
    expect(p.indexes.find((i) => i.name === 'events_2025_low_pkey')!.parentIndex).toEqual({ schema: 'app', name: 'events_2025_pkey' });
    expect(table(source, 'app.events').partitionKey).toBe('RANGE ("happened_at")');
    const clone = table(source, 'app.events_2024').triggers;
    expect(clone).toEqual([expect.objectContaining({ name: 'events_audit', enabled: 'D', inherited: true })]);
    expect(table(source, 'public.log_lines_archive').inherits).toEqual([{ schema: 'public', name: 'log_lines' }]);
    expect(table(source, 'public.cache_entries')).toMatchObject({ persistence: 'u', toastReloptions: ['autovacuum_enabled=false'] });
  });

  it('leaves out the views an extension makes (pg_stat_statements): the extension makes them where it goes', async () => {
    const url = await createDatabase(servers().main, `${prefix}ext_views`);
    await query(url, `CREATE EXTENSION pg_stat_statements; CREATE VIEW mine AS SELECT 1 AS one`);
    const c = await introspectUrl(url);
    expect(allViews(c)).toEqual(['public.mine']);
    expect((c.installedExtensions ?? []).map((e) => e.name)).toContain('pg_stat_statements');
  });

  it('reads views with what they read and use', () => {
    const v = source.views.find((x) => x.name === 'recent_user_devices')!;
    expect(v.dependsOn).toEqual(['app.user_devices']);
    expect(v.options).toEqual(['security_barrier=true']);
    expect(v.uses?.functions).toEqual(['app.lower_trim("t" "text")']);
    expect(source.views.find((x) => x.name === 'user_devices')!.dependsOn).toEqual(['app.devices', 'app.users']);
  });

  it('recreates every table into an empty database: the re-read catalog is the same', async () => {
    const target = await createDatabase(servers().main, `${prefix}dst`);
    await runAll(target, renderAll(source, allTables(source), allViews(source)));
    const copy = await introspectUrl(target);
    const expected = comparable({ ...source, sequences: source.sequences.filter((s) => s.name !== 'unused_seq') });
    expect(comparable(copy)).toEqual(expected);
    for (const k of allTables(source)) expect(tableFingerprint(copy, k)).toBe(tableFingerprint(source, k));
  });

  it('creates the pre-data of one table alone with what it needs, quoting every name', async () => {
    const target = await createDatabase(servers().main, `${prefix}one`);
    const keys = ['public.Odd "Table" Name'];
    await runAll(target, renderAll(source, keys));
    const copy = await introspectUrl(target);
    const strip = (t: Table) => ({ ...t, rowsEstimate: 0, bytes: 0 });
    expect(copy.tables.map(strip)).toEqual(keys.map((k) => strip(table(source, k))));
    expect(copy.types).toEqual([]);
    expect(copy.extensions).toEqual([]);
  });

  it('writes and reads back a snapshot that fingerprints the same', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cps-snap-'));
    try {
      const file = join(dir, 'nested', 'schema.json');
      await writeSnapshot(file, source);
      const back = readSnapshot(file);
      expect(back).toEqual(source);
      expect(catalogFingerprint(back, allTables(back))).toBe(catalogFingerprint(source, allTables(source)));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('does not change the caller session: search_path and quoting are local to its transaction', async () => {
    const c = new pg.Client({ connectionString: servers().main });
    await c.connect();
    try {
      await introspect(c, ['public']);
      const [row] = (await c.query<{ sp: string; q: string }>(`SELECT current_setting('search_path') AS sp, current_setting('quote_all_identifiers') AS q`)).rows;
      expect(row).toEqual({ sp: '"$user", public', q: 'off' });
    } finally {
      await c.end();
    }
  });

  it('reads inside the caller transaction when asked, leaving it open', async () => {
    const c = new pg.Client({ connectionString: servers().main });
    await c.connect();
    try {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const cat = await introspect(c, ['pg_toast_none'], { inTransaction: true });
      expect(cat.tables).toEqual([]);
      const [row] = (await c.query<{ iso: string }>(`SELECT current_setting('transaction_isolation') AS iso`)).rows;
      expect(row!.iso).toBe('repeatable read');
      await c.query('COMMIT');
    } finally {
      await c.end();
    }
  });
});

describe('catalog across versions (PostgreSQL 15 source, 18 target)', () => {
  const prefix = uniquePrefix();
  const role = `${prefix}reader`;

  it('renders a 15 catalog on 18 into the same schema as the one built natively on 18', async () => {
    const [url15, url18] = await Promise.all([
      featureDatabase(pg15(), prefix, role),
      featureDatabase(servers().main, `${prefix}n`, role),
    ]);
    const [cat15, native18] = await Promise.all([introspectUrl(url15), introspectUrl(url18)]);
    expect(cat15.serverVersionNum).toBeLessThan(160000);
    const target = await createDatabase(servers().main, `${prefix}dst`);
    await runAll(target, renderAll(cat15, allTables(cat15), allViews(cat15)));
    const copy = await introspectUrl(target);
    expect(comparable(copy)).toEqual(comparable(native18));
    expect(allTables(cat15)).toEqual(allTables(native18));
  });
});

describe('catalog performance', () => {
  it('introspects 1,000 tables in a few bulk queries', async () => {
    const prefix = uniquePrefix();
    const url = await createDatabase(servers().main, `${prefix}big`);
    await runAll(url, [
      `CREATE TYPE public.state AS ENUM ('on', 'off');
       DO $$ BEGIN
         FOR i IN 1..1000 LOOP
           EXECUTE format('CREATE TABLE public.t%s (id bigserial PRIMARY KEY, parent bigint %s, name text NOT NULL DEFAULT %L,
             state public.state, created timestamptz DEFAULT now(), CHECK (length(name) < 100))',
             i, CASE WHEN i > 1 THEN format('REFERENCES public.t%s (id)', i - 1) ELSE '' END, 'n' || i);
           EXECUTE format('CREATE INDEX ON public.t%s (name)', i);
           EXECUTE format('COMMENT ON TABLE public.t%s IS %L', i, 'table ' || i);
         END LOOP;
       END $$`,
    ]);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const queries: string[] = [];
    const original = c.query.bind(c);
    // Count the statements introspect sends: the spy keeps the client's behaviour.
    (c as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
      queries.push(String(a[0]));
      return (original as (...x: unknown[]) => unknown)(...a);
    };
    try {
      const cat = await introspect(c, ['public']);
      expect(cat.tables).toHaveLength(1000);
      expect(cat.tables[0]!.dependsOn.types).toEqual(['public.state']);
      // One query per kind of object (30 for this schema: rules, extended statistics, foreign tables and views' defaults among them), none per table.
      expect(queries.length).toBeLessThan(34);
      expect(renderPreData(cat, allTables(cat)).length).toBeGreaterThan(2000);
    } finally {
      await c.end();
    }
  });
});

describe('a function with its own search_path, in schemas whose names hold an s', () => {
  it('finds the function it calls through that path (MusicBrainz\'s controlled_for_whitespace)', async () => {
    const url = await createDatabase(servers().main, `${uniquePrefix()}sp`);
    await runAll(url, [
      `CREATE SCHEMA sales;
       CREATE SCHEMA "Odd Schemas";
       CREATE FUNCTION sales.padded(text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT btrim($1) <> $1 $$;
       CREATE FUNCTION "Odd Schemas".trimmed(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT btrim($1) $$;
       CREATE FUNCTION sales.clean(t text) RETURNS boolean LANGUAGE sql IMMUTABLE SET search_path = sales, "Odd Schemas", public
         AS $$ SELECT NOT padded(t) AND trimmed(t) <> '' $$;
       CREATE TABLE sales.item (id int PRIMARY KEY, name text CHECK (sales.clean(name)));`,
    ]);
    const catalog = await introspectUrl(url, ['sales', 'Odd Schemas']);
    const closure = dependencyClosure(catalog, ['sales.item']);
    expect(closure.functions.map((f) => `${f.schema}.${f.name}`).sort()).toEqual(['Odd Schemas.trimmed', 'sales.clean', 'sales.padded']);
  });
});
