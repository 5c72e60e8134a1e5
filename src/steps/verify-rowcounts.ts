import type { VerifyRowcountsStep } from '../plan/model.js';
import type { StepHandler } from './handler.js';
import { qname } from '../pg/quote.js';
import { parseKey } from '../catalog/model.js';
import { copiedSourceRows } from './copy-data.js';

export function verifyRowcountsSql(tables: string[]): string[] {
  return tables.map((t) => `SELECT count(*) FROM ONLY ${qname(parseKey(t))}  -- equals the rows read from the snapshot`);
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
    try {
      for (const table of step.tables) {
        const expected = (await copiedSourceRows(ctx, step.target.database, table)) ?? NaN;
        const r = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ONLY ${qname(parseKey(table))}`);
        const actual = Number(r.rows[0]?.n ?? -1);
        counts[table] = actual;
        if (!Number.isNaN(expected) && actual !== expected) mismatches.push(`${table}: source snapshot ${expected} rows, target ${actual}`);
      }
    } finally {
      await client.end();
    }
    if (mismatches.length > 0) throw new Error(`row counts differ in ${step.target.database}:\n  ${mismatches.join('\n  ')}`);
    return { rows: Object.values(counts).reduce((a, b) => a + b, 0), detail: { counts } };
  },
};
