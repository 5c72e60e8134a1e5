import { describe, expect, it } from 'vitest';
import type { Catalog, TextSearchObject } from '../../../src/catalog/model.js';
import { textSearchNeeded } from '../../../src/plan/text-search.js';
import { CatalogBuilder } from '../manifest/catalog-builder.js';

const dict = (schema: string, name: string, over: Partial<TextSearchObject> = {}): TextSearchObject => ({
  kind: 'dictionary',
  schema,
  name,
  ddl: [`CREATE TEXT SEARCH DICTIONARY ${schema}.${name} (TEMPLATE = pg_catalog.simple)`],
  dictionaries: [],
  needs: [],
  ownBase: false,
  ...over,
});
const config = (schema: string, name: string, dictionaries: string[], over: Partial<TextSearchObject> = {}): TextSearchObject => ({
  kind: 'configuration',
  schema,
  name,
  ddl: [`CREATE TEXT SEARCH CONFIGURATION ${schema}.${name} (PARSER = pg_catalog."default")`],
  dictionaries,
  needs: [],
  ownBase: false,
  ...over,
});

function catalog(objects: TextSearchObject[]): Catalog {
  const c = new CatalogBuilder(['public']).table('docs', { columns: ['id'] }).build();
  c.textSearch = objects;
  return c;
}

describe('textSearchNeeded', () => {
  const cat = catalog([
    dict('app', 'stop'),
    config('app', 'folded', ['app.stop', 'public.unaccent'], { needs: [{ name: 'unaccent', schema: 'ext' }] }),
    config('app', 'unused', []),
    config('public', 'words', []),
    config('app', 'odd', [], { ownBase: true }),
  ]);

  it('finds a qualified or unqualified name in a literal, brings the dictionaries, and makes dictionaries first', () => {
    const n = textSearchNeeded(cat, [`CREATE INDEX i ON app.docs USING gin (to_tsvector('app.folded'::regconfig, body))`, `SELECT to_tsvector('words', $1)`], new Set());
    expect(n.objects.map((o) => `${o.kind} ${o.schema}.${o.name}`)).toEqual(['dictionary app.stop', 'configuration app.folded', 'configuration public.words']);
    expect(n.sql).toEqual([
      'CREATE SCHEMA IF NOT EXISTS "app"',
      'CREATE SCHEMA IF NOT EXISTS "ext"',
      'CREATE EXTENSION IF NOT EXISTS "unaccent" WITH SCHEMA "ext"',
      ...n.objects.flatMap((o) => o.ddl),
    ]);
    expect(n.uncarriable).toEqual([]);
  });

  it('does not make an extension the database gets anyway, nor what no literal names (a name in code or a comment is not a use)', () => {
    const n = textSearchNeeded(cat, [`SELECT 1 AS folded -- 'app.unused'\n`, `SELECT 'app.folded'`], new Set(['unaccent']));
    expect(n.sql.filter((s) => s.includes('EXTENSION'))).toEqual([]);
    expect(n.objects.map((o) => o.name)).toEqual(['stop', 'folded']);
  });

  it('names one made over a parser or template of the source\'s own as not carriable', () => {
    const n = textSearchNeeded(cat, [`SELECT to_tsvector('app.odd', 'x')`], new Set());
    expect(n.objects).toEqual([]);
    expect(n.uncarriable.map((o) => o.name)).toEqual(['odd']);
  });
});
