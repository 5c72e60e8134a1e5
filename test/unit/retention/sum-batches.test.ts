import { describe, expect, it } from 'vitest';
import { SMALL_TABLE_BYTES, SUM_BATCH_TABLES, batchSumSql, sumBatches } from '../../../src/retention/table-sums.js';

describe('sumBatches', () => {
  it('reads empty tables together, at most SUM_BATCH_TABLES in one query', () => {
    const tables = Array.from({ length: SUM_BATCH_TABLES * 2 + 3 }, (_, i) => `public.t${i}`);
    const batches = sumBatches(tables, new Map(tables.map((t) => [t, 0])));
    expect(batches.map((b) => b.length)).toEqual([SUM_BATCH_TABLES, SUM_BATCH_TABLES, 3]);
    expect(batches.flat()).toEqual(tables);
  });

  it('reads a large table alone and keeps small ones together up to the size limit', () => {
    const bytes = new Map([
      ['public.a', 8192],
      ['public.big', SMALL_TABLE_BYTES + 1],
      ['public.b', SMALL_TABLE_BYTES / 2],
      ['public.c', SMALL_TABLE_BYTES / 2],
      ['public.d', 8192],
    ]);
    expect(sumBatches([...bytes.keys()], bytes)).toEqual([['public.big'], ['public.a', 'public.b'], ['public.c', 'public.d']]);
  });

  it('reads a table of unknown size alone', () => {
    expect(sumBatches(['public.a', 'public.x'], new Map([['public.a', 0]]))).toEqual([['public.x'], ['public.a']]);
  });
});

describe('batchSumSql', () => {
  it('numbers each table’s row by its place in the batch', () => {
    const sql = batchSumSql(['SELECT 1 AS n, 2 AS h', 'SELECT 3 AS n, 4 AS h']);
    expect(sql).toBe('SELECT 0 AS i, s.n, s.h FROM (SELECT 1 AS n, 2 AS h) AS s\nUNION ALL\nSELECT 1 AS i, s.n, s.h FROM (SELECT 3 AS n, 4 AS h) AS s');
  });
});
