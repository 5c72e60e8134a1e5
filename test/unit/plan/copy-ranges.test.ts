import { describe, expect, it } from 'vitest';
import { DEFAULT_SPLIT, parseSplitSize as parseByteSize, rangeCount, rangePredicates, splitPolicyFromEnv, SPLIT_ENV } from '../../../src/plan/copy-ranges.js';
import { copySql, copyTransaction, rangeMarkerKey } from '../../../src/steps/copy-data.js';

describe('rangePredicates', () => {
  it('splits [1, 100] into four even ranges, open at both ends', () => {
    expect(rangePredicates({ column: 'id', min: '1', max: '100' }, 4)).toEqual([
      's."id" < 26',
      's."id" >= 26 AND s."id" < 51',
      's."id" >= 51 AND s."id" < 76',
      's."id" >= 76',
    ]);
  });

  it('works past 2^53 (bigint keys) and with negative keys', () => {
    expect(rangePredicates({ column: 'k', min: '9007199254740993', max: '9007199254741000' }, 2)).toEqual(['s."k" < 9007199254740997', 's."k" >= 9007199254740997']);
    expect(rangePredicates({ column: 'k', min: '-10', max: '9' }, 2)).toEqual(['s."k" < 0', 's."k" >= 0']);
  });

  it('returns fewer ranges than asked when the key range is narrow, none when it is one value', () => {
    expect(rangePredicates({ column: 'id', min: '5', max: '6' }, 8)).toEqual(['s."id" < 6', 's."id" >= 6']);
    expect(rangePredicates({ column: 'id', min: '5', max: '5' }, 8)).toEqual([]);
  });

  it('quotes the column', () => {
    expect(rangePredicates({ column: 'My "Id"', min: '0', max: '9' }, 2)[0]).toBe('s."My ""Id""" < 5');
  });
});

describe('split policy', () => {
  it('splits a table larger than the threshold into parts of about the threshold, at most maxRanges', () => {
    expect(rangeCount(100, { largerThan: 100, maxRanges: 16 })).toBe(1);
    expect(rangeCount(101, { largerThan: 100, maxRanges: 16 })).toBe(2);
    expect(rangeCount(1000, { largerThan: 100, maxRanges: 16 })).toBe(10);
    expect(rangeCount(10_000, { largerThan: 100, maxRanges: 16 })).toBe(16);
    expect(rangeCount(10_000, { largerThan: Infinity, maxRanges: 16 })).toBe(1);
  });

  it('reads sizes with binary units, and off', () => {
    expect(parseByteSize('64MB')).toBe(64 * 2 ** 20);
    expect(parseByteSize('1.5 gb')).toBe(1.5 * 2 ** 30);
    expect(parseByteSize('4096')).toBe(4096);
    expect(parseByteSize('off')).toBe(Infinity);
    expect(parseByteSize('lots')).toBeNull();
  });

  it('takes the threshold from the environment, and says what to write when it is unreadable', () => {
    expect(splitPolicyFromEnv({})).toEqual(DEFAULT_SPLIT);
    expect(splitPolicyFromEnv({ [SPLIT_ENV]: '1MB' }).largerThan).toBe(2 ** 20);
    expect(() => splitPolicyFromEnv({ [SPLIT_ENV]: 'big' })).toThrow(/write e\.g\. 512MB/);
  });
});

describe('copySql for ranges', () => {
  const base = { source: { schema: 'public', name: 'events' }, columns: ['id', 'v'], extra: [], joins: [], binary: true, freeze: true };

  it('truncates and freezes a whole table', () => {
    const sql = copySql({ ...base, where: null });
    expect(sql.before).toEqual(['TRUNCATE ONLY "public"."events"']);
    expect(sql.copyIn).toBe('COPY "public"."events" ("id", "v") FROM STDIN (FORMAT binary, FREEZE)');
  });

  it('empties a small table (no freeze) with DELETE and loads it without FREEZE', () => {
    const sql = copySql({ ...base, freeze: false, where: null });
    expect(sql.before).toEqual(['DELETE FROM ONLY "public"."events"']);
    expect(sql.copyIn).toBe('COPY "public"."events" ("id", "v") FROM STDIN (FORMAT binary)');
  });

  it('truncates and freezes the first range only; the others neither truncate nor delete', () => {
    const first = copySql({ ...base, where: 's."id" < 10', truncate: true });
    const next = copySql({ ...base, where: 's."id" >= 10', truncate: false });
    expect(first.before).toEqual(['TRUNCATE ONLY "public"."events"']);
    expect(first.copyIn).toContain('FREEZE');
    expect(next.before).toEqual([]);
    expect(next.copyIn).not.toContain('FREEZE');
    expect(next.copyOut).toBe('COPY (SELECT s."id", s."v" FROM ONLY "public"."events" AS s WHERE s."id" >= 10) TO STDOUT (FORMAT binary)');
  });

  it('keys the range marker on the SQL, so other bounds never count as done', () => {
    const a = { id: 'copy_data:db:public.events#2/4', copyOut: 'COPY (... WHERE s."id" >= 10) TO STDOUT', copyIn: 'COPY x FROM STDIN' };
    expect(rangeMarkerKey(a)).toMatch(/^copy_data:db:public\.events#2\/4@[0-9a-f]{16}$/);
    expect(rangeMarkerKey({ ...a, copyOut: 'COPY (... WHERE s."id" >= 11) TO STDOUT' })).not.toBe(rangeMarkerKey(a));
    expect(copyTransaction(['T'], 'C', ['M'])).toEqual(['BEGIN', 'T', 'C', 'M', 'COMMIT']);
  });
});
