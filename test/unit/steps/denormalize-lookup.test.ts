import { describe, expect, it } from 'vitest';
import { groupLookups, lateralLookup, lookupColumn, scalarLookup } from '../../../src/steps/denormalize-lookup.js';

const table = (key: string) => {
  const [schema, name] = key.split('.') as [string, string];
  return { schema, name, partitioned: name.endsWith('_parts') };
};

describe('denormalized lookups', () => {
  const denorm = [
    { column: 'owner_label', fromTable: 'public.owners', fromColumn: 'label', on: [{ local: 'owner_id', remote: 'id' }] },
    { column: 'owner_tier', fromTable: 'public.owners', fromColumn: 'tier', on: [{ local: 'owner_id', remote: 'id' }] },
    { column: 'owner_label_2', fromTable: 'public.owners', fromColumn: 'label', on: [{ local: 'owner_id', remote: 'id' }] },
    { column: 'other_label', fromTable: 'public.owners', fromColumn: 'label', on: [{ local: 'other_id', remote: 'id' }] },
    { column: 'pair', fromTable: 'public.pair_parts', fromColumn: 'title', on: [{ local: 'region', remote: 'r' }, { local: 'num', remote: 'n' }] },
  ];

  it('reads several columns of one referenced row with one probe, and each other key with its own', () => {
    const groups = groupLookups(denorm, (d) => table(d.fromTable));
    expect(groups.map((g) => [g.lookup.alias, g.lookup.columns, g.entries.map((e) => e.column)])).toEqual([
      ['d1', ['label', 'tier'], ['owner_label', 'owner_tier', 'owner_label_2']],
      ['d2', ['label'], ['other_label']],
      ['d3', ['title'], ['pair']],
    ]);
    expect(lookupColumn(groups[0]!.lookup, 'tier')).toBe('"d1"."tier"');
  });

  it('skips NULL key parts, matches every key column, keeps one row, and reads a partitioned table with its partitions', () => {
    const [owner, , pair] = groupLookups(denorm, (d) => table(d.fromTable));
    expect(lateralLookup('s', owner!.lookup)).toBe(
      'LEFT JOIN LATERAL (SELECT "d1"."label", "d1"."tier" FROM ONLY "public"."owners" AS "d1" ' +
        'WHERE "s"."owner_id" IS NOT NULL AND "d1"."id" = "s"."owner_id" ORDER BY "d1".ctid LIMIT 1) AS "d1" ON true',
    );
    expect(lateralLookup('s', pair!.lookup)).toBe(
      'LEFT JOIN LATERAL (SELECT "d3"."title" FROM "public"."pair_parts" AS "d3" ' +
        'WHERE "s"."region" IS NOT NULL AND "s"."num" IS NOT NULL AND "d3"."r" = "s"."region" AND "d3"."n" = "s"."num" ' +
        'ORDER BY "d3".tableoid, "d3".ctid LIMIT 1) AS "d3" ON true',
    );
  });

  it('is a scalar expression only for one column', () => {
    const [owner, other] = groupLookups(denorm, (d) => table(d.fromTable));
    expect(scalarLookup('t', other!.lookup)).toMatch(/^\(SELECT "d2"\."label" FROM ONLY .* LIMIT 1\)$/);
    expect(() => scalarLookup('t', owner!.lookup)).toThrow(/one column, not 2/);
  });
});
