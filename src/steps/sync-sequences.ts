import type { SyncSequencesStep } from '../plan/model.js';
import type { StepHandler } from './handler.js';
import { literal, qname } from '../pg/quote.js';

/** Sequences read (source) and set (target) per statement. */
const SEQUENCE_CHUNK = 200;

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
      // A statement per chunk of sequences on each side, not one per sequence.
      for (let at = 0; at < step.sequences.length; at += SEQUENCE_CHUNK) {
        const chunk = step.sequences.slice(at, at + SEQUENCE_CHUNK);
        const r = await src.query<{ i: number; last_value: string; is_called: boolean }>(
          chunk.map((s, i) => `SELECT ${i} AS i, last_value::text AS last_value, is_called FROM ${qname(s.source)}`).join(' UNION ALL '),
        );
        const read = r.rows.map((row) => ({ seq: chunk[row.i]!, row }));
        if (read.length === 0) continue;
        await dst.query(
          `SELECT ${read.map((_, i) => `setval($${3 * i + 1}::regclass, $${3 * i + 2}::bigint, $${3 * i + 3})`).join(', ')}`,
          read.flatMap(({ seq, row }) => [qname(seq.target), row.last_value, row.is_called]),
        );
        for (const { seq, row } of read) values[`${seq.target.schema}.${seq.target.name}`] = row.last_value;
      }
    } finally {
      await dst.end();
    }
    return { rows: step.sequences.length, detail: { values } };
  },
};
