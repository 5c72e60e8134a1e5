import { describe, expect, it } from 'vitest';
import { BATCH_TABLES, batchSql, checksumWork, SMALL_TABLE_BYTES } from '../../../src/verify/checksum-batch.js';
import type { CopiedTable } from '../../../src/verify/plan-tables.js';

const table = (name: string, database: string, bytes: number | undefined): CopiedTable => ({
  service: database,
  table: `public.${name}`,
  source: { schema: 'public', name },
  target: { service: database, server: 'target', database },
  columns: ['id'],
  ...(bytes === undefined ? {} : { bytes }),
});

const names = (w: ReturnType<typeof checksumWork>[number]) => ('batch' in w ? w.batch.map((t) => t.table) : w.table.table);

describe('checksumWork', () => {
  it('reads large and unknown-size tables alone, largest first, and small ones in batches per target database', () => {
    const small = Array.from({ length: BATCH_TABLES + 2 }, (_, i) => table(`s${i}`, 'a', 1000));
    const work = checksumWork([table('big', 'a', SMALL_TABLE_BYTES + 1), ...small, table('b1', 'b', 0), table('b2', 'b', 10), table('huge', 'b', 10 * SMALL_TABLE_BYTES), table('replicated', 'b', undefined), table('c1', 'c', 5)]);
    expect(work.map(names)).toEqual([
      'public.replicated',
      'public.huge',
      'public.big',
      small.slice(0, BATCH_TABLES).map((t) => t.table),
      small.slice(BATCH_TABLES).map((t) => t.table),
      ['public.b1', 'public.b2'],
      'public.c1',
    ]);
  });

  it('numbers each table of a batch query', () => {
    const sql = batchSql([table('x', 'a', 1), table('y', 'a', 1)].map((t) => ({ table: t, rowHash: 'hash_record_extended(ROW(t."id"), 0)' })));
    expect(sql.split('\nUNION ALL\n')).toEqual([
      'SELECT 0 AS i, q.n, q.h FROM (SELECT count(*)::text AS n, coalesce(sum(hash_record_extended(ROW(t."id"), 0)), 0)::text AS h FROM ONLY "public"."x" AS t) AS q',
      'SELECT 1 AS i, q.n, q.h FROM (SELECT count(*)::text AS n, coalesce(sum(hash_record_extended(ROW(t."id"), 0)), 0)::text AS h FROM ONLY "public"."y" AS t) AS q',
    ]);
  });
});
