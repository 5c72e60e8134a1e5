import type { SyncSequencesStep } from '../plan/model.js';
import type { StepHandler } from './handler.js';
import { literal, qname } from '../pg/quote.js';

/** What runs per sequence; the value comes from the source at run time. */
export function syncSequenceSql(target: { schema: string; name: string }): string {
  return `SELECT setval(${literal(qname(target))}, <source last_value>, <source is_called>)`;
}

/**
 * Sets every target sequence to the source's value, read after the copy (the
 * source tables are fenced, so the value no longer moves with their writes).
 */
export const syncSequences: StepHandler<'sync_sequences'> = {
  render: (step) => step.sql,
  async run(ctx, step: SyncSequencesStep) {
    if (step.sequences.length === 0) return { rows: 0 };
    const src = ctx.pools.pool('source');
    const dst = await ctx.pools.client(step.target.server, step.target.database);
    const values: Record<string, string> = {};
    try {
      for (const s of step.sequences) {
        const r = await src.query<{ last_value: string; is_called: boolean }>(
          `SELECT last_value::text AS last_value, is_called FROM ${qname(s.source)}`,
        );
        const row = r.rows[0];
        if (!row) continue;
        await dst.query(`SELECT setval($1::regclass, $2::bigint, $3)`, [qname(s.target), row.last_value, row.is_called]);
        values[`${s.target.schema}.${s.target.name}`] = row.last_value;
      }
    } finally {
      await dst.end();
    }
    return { rows: step.sequences.length, detail: { values } };
  },
};
