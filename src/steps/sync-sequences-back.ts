import type { SyncSequencesBackStep } from '../plan/model.js';
import type { StepHandler } from './handler.js';
import { qname } from '../pg/quote.js';

interface SequenceState {
  last_value: string;
  is_called: boolean;
  increment: string;
}

const READ = (name: string) =>
  `SELECT s.last_value::text AS last_value, s.is_called, q.seqincrement::text AS increment FROM ${name} s, pg_sequence q WHERE q.seqrelid = '${name.replaceAll("'", "''")}'::regclass`;

/** The value the next nextval() would start from, as a comparable number (descending sequences negated). */
function position(s: SequenceState): bigint {
  const up = BigInt(s.increment) > 0n;
  const v = BigInt(s.last_value) * (up ? 1n : -1n);
  return s.is_called ? v + 1n : v;
}

/**
 * `sync_sequences_back` (rollback after cutover, once the source has every write of the
 * target): each source sequence is set at or past its target twin, so that rows the
 * services insert in the source after the rollback never reuse a key the target
 * handed out. A source already past its twin is left alone: running it again changes nothing.
 */
export const syncSequencesBack: StepHandler<'sync_sequences_back'> = {
  render: (step) => step.sql,
  async run(ctx, step: SyncSequencesBackStep) {
    if (step.sequences.length === 0) return { rows: 0 };
    const values: Record<string, string> = {};
    const dst = ctx.pools.pool(step.target.server, step.target.database);
    const src = await ctx.pools.client('source');
    try {
      await src.query('SET default_transaction_read_only = off');
      for (const s of step.sequences) {
        const t = (await dst.query<SequenceState>(READ(qname(s.target)))).rows[0];
        const here = (await src.query<SequenceState>(READ(qname(s.source)))).rows[0];
        if (!t || !here) continue;
        if (position(t) > position(here)) {
          await src.query(`SELECT setval($1::regclass, $2::bigint, $3)`, [qname(s.source), t.last_value, t.is_called]);
          values[`${s.source.schema}.${s.source.name}`] = t.last_value;
        }
      }
    } finally {
      await src.end();
    }
    return { rows: step.sequences.length, detail: { values } };
  },
};

/** What the step runs, as the plan shows it. */
export function syncSequencesBackSql(step: Pick<SyncSequencesBackStep, 'sequences' | 'target'>): string[] {
  return [
    `-- per sequence: read it in ${step.target.database} and in the source; when the target's is further:`,
    ...step.sequences.map((s) => `SELECT setval('${qname(s.source).replaceAll("'", "''")}', <${step.target.database} last_value>, <its is_called>)  -- on the source`),
  ];
}
