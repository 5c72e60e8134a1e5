import type { VerifyRowcountsStep } from '../plan/model.js';
import type { StepHandler } from './handler.js';
import { qname } from '../pg/quote.js';
import { parseKey } from '../catalog/model.js';
import { copiedSourceRows } from './copy-data.js';
import { tableSums, type TableSum } from '../retention/table-sums.js';

export function verifyRowcountsSql(tables: string[]): string[] {
  return tables.map(
    (t) =>
      `SELECT count(*), sum(hash_record_extended(ROW(t.*), 0)) FROM ONLY ${qname(parseKey(t))} AS t  -- count equals the rows read from the snapshot; the sum is rollback's baseline (columns without a hash are cast to text; before PostgreSQL 14 hashtextextended(t::text, 0))`,
  );
}

/**
 * Compares each table's count in the target with the rows the copy read from
 * the source snapshot (recorded in the journal by its copy_data step).
 */
export const verifyRowcounts: StepHandler<'verify_rowcounts'> = {
  render: (step) => step.sql,
  async run(ctx, step: VerifyRowcountsStep) {
    const client = await ctx.pools.client(step.target.server, step.target.database);
    const mismatches: string[] = [];
    const counts: Record<string, number> = {};
    let sums: Record<string, TableSum>;
    try {
      // One scan per table gives the count and the checksum rollback later compares with.
      sums = await tableSums(client, step.tables);
      // The journal is read once for all tables, not once per table.
      const done = await ctx.journal.results?.();
      for (const table of step.tables) {
        const expected = (await copiedSourceRows(ctx, step.target.database, table, done)) ?? NaN;
        const actual = sums[table]?.rows ?? -1;
        counts[table] = actual;
        if (!Number.isNaN(expected) && actual !== expected) mismatches.push(`${table}: source snapshot ${expected} rows, target ${actual}`);
      }
    } finally {
      await client.end();
    }
    if (mismatches.length > 0) throw new Error(`row counts differ in ${step.target.database}:\n  ${mismatches.join('\n  ')}`);
    return { rows: Object.values(counts).reduce((a, b) => a + b, 0), detail: { counts, sums } };
  },
};
