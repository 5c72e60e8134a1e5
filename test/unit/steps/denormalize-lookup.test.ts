import { describe, expect, it } from 'vitest';
import { LOOKUP_WORK_MEM_MAX_KB, groupLookups, hashedLookup, lateralLookup, lookupColumn, lookupJoin, lookupWorkMemKb, raiseWorkMemSql, scalarLookup } from '../../../src/steps/denormalize-lookup.js';

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

describe('the join a lookup is read with', () => {
  const [owner, , pair] = groupLookups(
    [
      { column: 'owner_label', fromTable: 'public.owners', fromColumn: 'label', on: [{ local: 'owner_id', remote: 'id' }] },
      { column: 'other_label', fromTable: 'public.owners', fromColumn: 'label', on: [{ local: 'other_id', remote: 'id' }] },
      { column: 'pair', fromTable: 'public.pair_parts', fromColumn: 'title', on: [{ local: 'region', remote: 'r' }, { local: 'num', remote: 'n' }] },
    ],
    (d) => table(d.fromTable),
  );

  it('joins a referenced table of at most a quarter of the outer table plainly, on every key column', () => {
    expect(lookupJoin('s', owner!.lookup, { referencing: 4000, referenced: 1000, referencingRows: 400, referencedRows: 100 })).toBe(
      'LEFT JOIN ONLY "public"."owners" AS "d1" ON "d1"."id" = "s"."owner_id"',
    );
    expect(hashedLookup('s', { ...pair!.lookup, partitioned: false })).toBe(
      'LEFT JOIN ONLY "public"."pair_parts" AS "d3" ON "d3"."r" = "s"."region" AND "d3"."n" = "s"."num"',
    );
  });

  it('probes per row when the referenced table is larger than that, partitioned, or of unknown size', () => {
    expect(lookupJoin('s', owner!.lookup, { referencing: 4000, referenced: 1001, referencingRows: 400, referencedRows: 100 })).toBe(lateralLookup('s', owner!.lookup));
    expect(lookupJoin('s', owner!.lookup, { referencing: 0, referenced: 0, referencingRows: 400, referencedRows: 100 })).toBe(lateralLookup('s', owner!.lookup));
    expect(lookupJoin('s', owner!.lookup, { referencing: 4000, referenced: -1, referencingRows: 400, referencedRows: 100 })).toBe(lateralLookup('s', owner!.lookup));
    expect(lookupJoin('s', pair!.lookup, { referencing: 4000, referenced: 10, referencingRows: 400, referencedRows: 1 })).toBe(lateralLookup('s', pair!.lookup));
  });

  it('probes per row when the referenced table is small in bytes but not in rows (the planner would hash the referencing rows), or never analysed', () => {
    expect(lookupJoin('s', owner!.lookup, { referencing: 4000, referenced: 1000, referencingRows: 400, referencedRows: 101 })).toBe(lateralLookup('s', owner!.lookup));
    expect(lookupJoin('s', owner!.lookup, { referencing: 4000, referenced: 1000, referencingRows: 0, referencedRows: 0 })).toBe(lateralLookup('s', owner!.lookup));
  });
});

describe('the work_mem a plainly joined lookup gets', () => {
  it("holds each referenced table's bytes and a hash entry per row, with slack, up to a cap", () => {
    // 12 MiB and 200,000 rows: (12 MiB + 12.8 MB) × 1.25.
    expect(lookupWorkMemKb([{ bytes: 12 * 2 ** 20, rows: 200_000 }])).toBe(Math.ceil(((12 * 2 ** 20 + 200_000 * 64) * 1.25) / 1024));
    // Two lookups of one copy share the session: their tables add up.
    expect(lookupWorkMemKb([{ bytes: 2 ** 20, rows: 0 }, { bytes: 2 ** 20, rows: 0 }])).toBe(2560);
    expect(lookupWorkMemKb([{ bytes: 2 ** 40, rows: 2 ** 30 }])).toBe(LOOKUP_WORK_MEM_MAX_KB);
    // Unknown sizes (negative) count as nothing rather than lowering the sum.
    expect(lookupWorkMemKb([{ bytes: -1, rows: -1 }, { bytes: 1024, rows: 0 }])).toBe(2);
  });

  it("only raises the session's setting, never lowers it", () => {
    expect(raiseWorkMemSql(20480.2, false)).toBe("SELECT set_config('work_mem', greatest(pg_size_bytes(current_setting('work_mem')) / 1024, 20481)::bigint::text || 'kB', false)");
    expect(raiseWorkMemSql(64, true)).toContain(', true)');
  });
});
