import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import picomatch from 'picomatch';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../src/catalog/model.js';
import { tableKey } from '../../src/catalog/model.js';
import { renderPostData, renderPreData } from '../../src/catalog/ddl.js';
import { parseQualified, qname } from '../../src/pg/quote.js';
import { createDatabase, pg15, pg18Client, query, servers, uniquePrefix } from '../harness/servers.js';
import { PG15_BIN } from '../harness/global-setup.js';
import { SAMPLE_SERVICES, loadSample } from '../fixtures/index.js';
import { objectsSql } from './helpers/objects-fixture.js';
import {
  allObjects,
  allTables,
  allViews,
  comparable,
  featureSql,
  introspectUrl,
  pgDumpPath,
  renderAll,
  runAll,
  schemaDump,
} from './catalog-features.js';

/**
 * The oracle: pg_dump (PostgreSQL 15, with privileges and comments) of the source and
 * of a database built only from the rendered DDL must be the same text, after
 * dropping what pg_dump adds around the schema (comment lines, SET lines, ownership).
 */

/** pg_dump blocks (statements separated by blank lines) of some tables only. */
async function tableBlocks(url: string, tables: Array<{ schema: string; name: string }>, client: string): Promise<string[]> {
  const args = ['--schema-only', '--no-owner', ...tables.flatMap((t) => ['-t', qname(t)]), '-d', url];
  const { stdout } = await promisify(execFile)(pgDumpPath(client)!, args, { maxBuffer: 64 * 1024 * 1024 });
  return stdout
    .split(/\n\s*\n/)
    .map((b) =>
      b
        .split('\n')
        .filter((l) => !/^(--|\\restrict|\\unrestrict|SET |SELECT pg_catalog\.set_config)/.test(l) && !/OWNER TO/.test(l))
        .join('\n')
        .trim(),
    )
    .filter((b) => b.length > 0);
}

/** The tables of one sample service: its manifest entries resolved against the catalog, with partitions. */
function serviceTables(catalog: Catalog, entries: string[]): string[] {
  const names = new Set<string>();
  for (const entry of entries) {
    const { name } = parseQualified(entry, 'public');
    const match = picomatch(name);
    for (const t of catalog.tables) if (!t.partitionOf && match(t.name)) names.add(tableKey(t));
  }
  let grew = true;
  while (grew) {
    grew = false;
    for (const t of catalog.tables) {
      if (t.partitionOf && names.has(tableKey(t.partitionOf.parent)) && !names.has(tableKey(t))) {
        names.add(tableKey(t));
        grew = true;
      }
    }
  }
  return [...names].sort();
}

/** What only PostgreSQL 18 has: virtual generated columns, named and NOT VALID NOT NULL constraints, NOT ENFORCED checks and foreign keys, temporal keys, uuidv7(). */
const PG18_FEATURES = [
  `CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public;
   CREATE SCHEMA app;
   CREATE TABLE app.plans (
     id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     code uuid NOT NULL DEFAULT uuidv7(),
     price_cents integer NOT NULL,
     price_eur numeric GENERATED ALWAYS AS (price_cents / 100.0) VIRTUAL,
     price_tax numeric GENERATED ALWAYS AS (price_cents * 1.2) STORED,
     name text CONSTRAINT plans_name_required NOT NULL,
     note text,
     CONSTRAINT plans_price_positive CHECK (price_cents > 0) NOT ENFORCED
   );
   ALTER TABLE app.plans ADD CONSTRAINT plans_note_present NOT NULL note NOT VALID;
   CREATE TABLE app.rooms (id integer PRIMARY KEY, plan_id bigint);
   ALTER TABLE app.rooms ADD CONSTRAINT rooms_plan_fk FOREIGN KEY (plan_id) REFERENCES app.plans (id) NOT ENFORCED;
   CREATE TABLE app.bookings (
     room_id integer NOT NULL REFERENCES app.rooms (id),
     during tstzrange NOT NULL,
     CONSTRAINT bookings_no_overlap PRIMARY KEY (room_id, during WITHOUT OVERLAPS)
   );
   CREATE TABLE app.booking_notes (
     room_id integer NOT NULL,
     during tstzrange NOT NULL,
     body text,
     CONSTRAINT booking_notes_booking_fk FOREIGN KEY (room_id, PERIOD during) REFERENCES app.bookings (room_id, PERIOD during)
   );`,
];

/** Each oracle runs within PostgreSQL 15 and within 18, each with its own major's pg_dump. */
for (const major of [15, 18] as const) {
  const server = (): string => (major === 15 ? pg15() : servers().main);
  const client = (): string => (major === 15 ? PG15_BIN : pg18Client());

  describe(`schema copy against pg_dump (PostgreSQL ${major})`, () => {
    it('recreates the feature schema exactly', async () => {
      const srv = server();
      const prefix = uniquePrefix();
      const role = `${prefix}reader`;
      await query(srv, `CREATE ROLE "${role}" NOLOGIN`);
      const source = await createDatabase(srv, `${prefix}src`);
      await runAll(source, featureSql(role));
      const catalog = await introspectUrl(source);
      const target = await createDatabase(srv, `${prefix}dst`);
      await runAll(target, renderAll(catalog, allTables(catalog), allViews(catalog)));
      const [a, b] = await Promise.all([schemaDump(source, client()), schemaDump(target, client())]);
      expect(a).toContain('CREATE POLICY users_own');
      expect(b).toBe(a);
    });
  });

  describe(`schema copy of aggregates, procedures, window functions, privileges and comments (PostgreSQL ${major})`, () => {
    it('recreates them exactly: pg_dump with privileges and comments sees the same schema', async () => {
      const srv = server();
      const prefix = uniquePrefix();
      const roles = { reader: `${prefix}reader`, ghost: `${prefix}ghost` };
      for (const r of Object.values(roles)) await query(srv, `CREATE ROLE "${r}" NOLOGIN`);
      try {
        const source = await createDatabase(srv, `${prefix}src`);
        // Text search configurations are not carried, nor foreign tables and their servers (the plan names them: objects.test.ts).
        await runAll(source, [
          objectsSql(roles),
          'DROP TEXT SEARCH CONFIGURATION app.film_search',
          'DROP FOREIGN TABLE app.exchange_rates; DROP SERVER rates_server; DROP FOREIGN DATA WRAPPER rates_wrapper',
        ]);
        const catalog = await introspectUrl(source);
        const target = await createDatabase(srv, `${prefix}dst`);
        await runAll(target, renderAll(catalog, allTables(catalog), allViews(catalog), allObjects(catalog)));
        const [a, b] = await Promise.all([schemaDump(source, client()), schemaDump(target, client())]);
        for (const piece of [
          'CREATE AGGREGATE app.group_concat(text)',
          'CREATE AGGREGATE app.hypo_rank(VARIADIC "any" ORDER BY VARIADIC "any")',
          'CREATE PROCEDURE app.rename_film',
          'WINDOW',
          `GRANT UPDATE(title) ON TABLE app.film TO ${roles.reader} WITH GRANT OPTION;`,
          'REVOKE ALL ON FUNCTION app.group_concat(text) FROM PUBLIC;',
          'REVOKE ALL ON TYPE app.rating FROM PUBLIC;',
          `GRANT USAGE ON SCHEMA app TO ${roles.reader};`,
          "COMMENT ON SCHEMA app IS 'the rental application';",
          "COMMENT ON AGGREGATE app.group_concat(text) IS 'comma-separated list';",
        ]) {
          expect(a).toContain(piece);
        }
        expect(b).toBe(a);
      } finally {
        for (const db of ['src', 'dst']) await query(srv, `DROP DATABASE IF EXISTS "${prefix}${db}"`).catch(() => undefined);
        for (const r of Object.values(roles)) await query(srv, `DROP ROLE IF EXISTS "${r}"`).catch(() => undefined);
      }
    });
  });

  describe(`schema copy of the sample cloud-phone database (PostgreSQL ${major})`, () => {
    const prefix = uniquePrefix();
    let source: string;
    let catalog: Catalog;

    beforeAll(async () => {
      source = await createDatabase(server(), `${prefix}core`);
      await loadSample(source);
      catalog = await introspectUrl(source, ['public']);
    });

    it('recreates every table and view: pg_dump sees the same schema', async () => {
      const target = await createDatabase(server(), `${prefix}all`);
      await runAll(target, renderAll(catalog, allTables(catalog), allViews(catalog)));
      const [a, b] = await Promise.all([schemaDump(source, client()), schemaDump(target, client())]);
      expect(b).toBe(a);
      expect(comparable(await introspectUrl(target, ['public']))).toEqual(comparable(catalog));
    });

    for (const service of SAMPLE_SERVICES.filter((s) => s.tables.length > 0)) {
      it(`copies the tables of ${service.name}: only its cross-service foreign keys are missing`, async () => {
        const keys = serviceTables(catalog, service.tables);
        expect(keys.length).toBeGreaterThan(0);
        const inSet = new Set(keys);
        const dropped = keys.flatMap((k) =>
          catalog.tables
            .find((t) => tableKey(t) === k)!
            .constraints.filter((c) => c.type === 'f' && !c.inherited && !inSet.has(tableKey(c.references!.table)))
            .map((c) => c.name),
        );
        // A service that denormalizes columns does so because some of its foreign keys cross over.
        if (service.denormalize.length > 0) expect(dropped.length).toBeGreaterThan(0);
        const target = await createDatabase(server(), `${prefix}${service.key}`);
        const post = renderPostData(catalog, keys);
        await runAll(target, [
          ...renderPreData(catalog, keys),
          ...keys.flatMap((k) => post.perTable[k] ?? []),
          ...post.foreignKeys,
          ...post.sequenceOwnership,
        ]);
        const tables = keys.map((k) => catalog.tables.find((t) => tableKey(t) === k)!);
        const [a, b] = await Promise.all([tableBlocks(source, tables, client()), tableBlocks(target, tables, client())]);
        const missing = a.filter((block) => !b.includes(block));
        const extra = b.filter((block) => !a.includes(block));
        expect(extra).toEqual([]);
        const missingFks = missing.map((block) => /ADD CONSTRAINT (\S+) FOREIGN KEY/.exec(block)?.[1] ?? block);
        expect(missingFks.sort()).toEqual(dropped.map((n) => (/^[a-z_][a-z0-9_]*$/.test(n) ? n : `"${n}"`)).sort());
      });
    }
  });

  if (major === 18) {
    describe('schema copy of what only PostgreSQL 18 has', () => {
      it('recreates it exactly: pg_dump 18 sees the same schema', async () => {
        const prefix = uniquePrefix();
        const source = await createDatabase(server(), `${prefix}src`);
        try {
          await runAll(source, PG18_FEATURES);
          const catalog = await introspectUrl(source);
          const target = await createDatabase(server(), `${prefix}dst`);
          await runAll(target, renderAll(catalog, allTables(catalog), allViews(catalog), allObjects(catalog)));
          const [a, b] = await Promise.all([schemaDump(source, client()), schemaDump(target, client())]);
          for (const piece of ['GENERATED ALWAYS AS (((price_cents)::numeric / 100.0)),', 'NOT ENFORCED', 'WITHOUT OVERLAPS', 'PERIOD during', 'plans_name_required', 'plans_note_present', 'uuidv7()']) expect(a).toContain(piece);
          expect(b).toBe(a);
        } finally {
          for (const db of ['src', 'dst']) await query(server(), `DROP DATABASE IF EXISTS "${prefix}${db}" WITH (FORCE)`).catch(() => undefined);
        }
      });
    });
  }
}
