import { describe, expect, it } from 'vitest';
import { CatalogBuilder } from '../manifest/catalog-builder.js';
import { planFrom } from './plan-from.js';

const MANIFEST = `version: 1
name: am
source: { url: "\${SOURCE_URL}" }
services:
  metrics-service:
    database: metrics
    tables: [samples, events]
`;

describe('a table of another access method than heap (CREATE TABLE … USING)', () => {
  it('blocks the plan, naming the table, its method and the fix: a new database made from template0 has no such method', () => {
    const catalog = new CatalogBuilder().table('samples').table('events').build();
    catalog.tables.find((t) => t.name === 'samples')!.accessMethod = 'columnar';
    const plan = planFrom(MANIFEST, catalog);
    expect(plan.errors).toEqual([
      'metrics would get tables of a table access method other than heap: public.samples (columnar); a new database (made from template0) has no such method, and the split does not make one: ' +
        'convert the table to heap before the split (ALTER TABLE … SET ACCESS METHOD heap, PostgreSQL 15 and later), or leave it in the source (ignore)',
    ]);
    expect(planFrom(MANIFEST, new CatalogBuilder().table('samples').table('events').build()).errors).toEqual([]);
  });
});
