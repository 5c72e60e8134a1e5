import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import picomatch from 'picomatch';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../src/catalog/model.js';
import { tableKey } from '../../src/catalog/model.js';
import { renderPostData, renderPreData } from '../../src/catalog/ddl.js';
import { parseQualified, qname } from '../../src/pg/quote.js';
import { createDatabase, pg15, query, uniquePrefix } from '../harness/servers.js';
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
async function tableBlocks(url: string, tables: Array<{ schema: string; name: string }>): Promise<string[]> {
  const args = ['--schema-only', '--no-owner', ...tables.flatMap((t) => ['-t', qname(t)]), '-d', url];
  const { stdout } = await promisify(execFile)(pgDumpPath()!, args, { maxBuffer: 64 * 1024 * 1024 });
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

describe('schema copy against pg_dump (PostgreSQL 15)', () => {
  it('recreates the feature schema exactly', async () => {
    const server = pg15();
    const prefix = uniquePrefix();
    const role = `${prefix}reader`;
    await query(server, `CREATE ROLE "${role}" NOLOGIN`);
    const source = await createDatabase(server, `${prefix}src`);
    await runAll(source, featureSql(role));
    const catalog = await introspectUrl(source);
    const target = await createDatabase(server, `${prefix}dst`);
    await runAll(target, renderAll(catalog, allTables(catalog), allViews(catalog)));
    const [a, b] = await Promise.all([schemaDump(source), schemaDump(target)]);
    expect(a).toContain('CREATE POLICY users_own');
    expect(b).toBe(a);
  });
});

describe('schema copy of aggregates, procedures, window functions, privileges and comments (PostgreSQL 15)', () => {
  it('recreates them exactly: pg_dump with privileges and comments sees the same schema', async () => {
    const server = pg15();
    const prefix = uniquePrefix();
    const roles = { reader: `${prefix}reader`, ghost: `${prefix}ghost` };
    for (const r of Object.values(roles)) await query(server, `CREATE ROLE "${r}" NOLOGIN`);
    try {
      const source = await createDatabase(server, `${prefix}src`);
      await runAll(source, [objectsSql(roles)]);
      const catalog = await introspectUrl(source);
      const target = await createDatabase(server, `${prefix}dst`);
      await runAll(target, renderAll(catalog, allTables(catalog), allViews(catalog), allObjects(catalog)));
      const [a, b] = await Promise.all([schemaDump(source), schemaDump(target)]);
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
      for (const db of ['src', 'dst']) await query(server, `DROP DATABASE IF EXISTS "${prefix}${db}"`).catch(() => undefined);
      for (const r of Object.values(roles)) await query(server, `DROP ROLE IF EXISTS "${r}"`).catch(() => undefined);
    }
  });
});

describe('schema copy of the sample cloud-phone database (PostgreSQL 15)', () => {
  const prefix = uniquePrefix();
  let source: string;
  let catalog: Catalog;

  beforeAll(async () => {
    source = await createDatabase(pg15(), `${prefix}core`);
    await loadSample(source);
    catalog = await introspectUrl(source, ['public']);
  });

  it('recreates every table and view: pg_dump sees the same schema', async () => {
    const target = await createDatabase(pg15(), `${prefix}all`);
    await runAll(target, renderAll(catalog, allTables(catalog), allViews(catalog)));
    const [a, b] = await Promise.all([schemaDump(source), schemaDump(target)]);
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
      const target = await createDatabase(pg15(), `${prefix}${service.key}`);
      const post = renderPostData(catalog, keys);
      await runAll(target, [
        ...renderPreData(catalog, keys),
        ...keys.flatMap((k) => post.perTable[k] ?? []),
        ...post.foreignKeys,
        ...post.sequenceOwnership,
      ]);
      const tables = keys.map((k) => catalog.tables.find((t) => tableKey(t) === k)!);
      const [a, b] = await Promise.all([tableBlocks(source, tables), tableBlocks(target, tables)]);
      const missing = a.filter((block) => !b.includes(block));
      const extra = b.filter((block) => !a.includes(block));
      expect(extra).toEqual([]);
      const missingFks = missing.map((block) => /ADD CONSTRAINT (\S+) FOREIGN KEY/.exec(block)?.[1] ?? block);
      expect(missingFks.sort()).toEqual(dropped.map((n) => (/^[a-z_][a-z0-9_]*$/.test(n) ? n : `"${n}"`)).sort());
    });
  }
});
