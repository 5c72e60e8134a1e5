import { describe, expect, it } from 'vitest';
import { boundRowHashExpr, checksumSql, hashBucketExpr, rangeBucketExpr, rangePredicate, rowHashExpr, PINNED_SETTINGS } from '../../../src/verify/checksum-sql.js';
import { describeDiffs, describeKey, hashModeFor } from '../../../src/verify/checksum.js';

describe('hash mode', () => {
  it('hashes typed records only when both sides are 14+ on the same major', () => {
    expect(hashModeFor(180004, 180001)).toBe('record');
    expect(hashModeFor(140000, 140011)).toBe('record');
    expect(hashModeFor(150018, 180004)).toBe('text');
    expect(hashModeFor(130010, 130010)).toBe('text');
  });
});

describe('checksum SQL', () => {
  const cols = [
    { name: 'id', text: false },
    { name: 'mood', text: true },
    { name: 'Odd "name"', text: false },
  ];
  it('casts only the flagged columns in record mode', () => {
    expect(rowHashExpr(cols, 'record')).toBe(`hash_record_extended(ROW(t."id", t."mood"::text, t."Odd ""name"""), 0)`);
  });
  it("seeds the record hash of verify with the primary key, or the row's own hash without one", () => {
    const id = { name: 'id', text: false, key: 'integer' as const };
    expect(boundRowHashExpr([id, ...cols.slice(1)], 'record')).toBe(`hash_record_extended(ROW(t."id", t."mood"::text, t."Odd ""name"""), t."id"::int8)`);
    const two = [{ ...cols[0]!, key: 'other' as const }, { ...cols[1]!, key: 'other' as const }, cols[2]!];
    expect(boundRowHashExpr(two, 'record', 'x')).toBe(
      `hash_record_extended(ROW(x."id", x."mood"::text, x."Odd ""name"""), hash_record_extended(ROW(x."id", x."mood"::text), 0))`,
    );
    expect(boundRowHashExpr(cols, 'record')).toBe(
      `hash_record_extended(ROW(t."id", t."mood"::text, t."Odd ""name"""), hash_record_extended(ROW(t."id", t."mood"::text, t."Odd ""name"""), 0))`,
    );
    expect(boundRowHashExpr(cols, 'text')).toBe(rowHashExpr(cols, 'text'));
  });
  it('hashes the row text in text mode', () => {
    expect(rowHashExpr(cols, 'text')).toBe(`hashtextextended(ROW(t."id", t."mood", t."Odd ""name""")::text, 0)`);
  });
  it('sums over ONLY the table with an exact count', () => {
    expect(checksumSql({ schema: 'public', name: 'my table' }, 'h(t)')).toBe(
      `SELECT count(*)::text AS n, coalesce(sum(h(t)), 0)::text AS h FROM ONLY "public"."my table" AS t`,
    );
  });
  it('builds range and hash buckets', () => {
    expect(rangePredicate('id', -5n, 10n)).toBe(`t."id" BETWEEN -5 AND 10`);
    expect(rangeBucketExpr('id', -5n, 4n)).toBe(`floor((t."id"::numeric - -5) / 4)`);
    expect(hashBucketExpr(`t."code"::text`, 2, 256)).toBe(`((hashtextextended(t."code"::text, 2) % 256) + 256) % 256`);
  });
  it('pins every setting that changes a text form, for the transaction only', () => {
    expect(PINNED_SETTINGS.every((s) => s.startsWith('SET LOCAL '))).toBe(true);
    for (const name of ['DateStyle', 'IntervalStyle', 'TimeZone', 'extra_float_digits', 'bytea_output']) {
      expect(PINNED_SETTINGS.some((s) => s.includes(name))).toBe(true);
    }
  });
});

describe('differing keys', () => {
  it('describes single, composite and key-less rows', () => {
    expect(describeKey({ id: '17' })).toBe('id=17');
    expect(describeKey({ tenant: 'a', id: '3' })).toBe('(tenant=a, id=3)');
    expect(describeKey({ row: '(1,x)' })).toBe('row (1,x)');
    expect(describeKey({ row: 'y'.repeat(200) })).toHaveLength(4 + 80);
    expect(describeDiffs([{ key: { id: '17' }, state: 'changed' }, { key: { id: '42' }, state: 'missing in target' }])).toBe(
      'id=17 (changed), id=42 (missing in target)',
    );
  });
});
