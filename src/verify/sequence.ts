import { qname } from '../pg/quote.js';
import { stepsOf } from './plan-tables.js';
import { errorText, unverifiedBy, mapLimit, type Check, type VerifyContext } from './check.js';

/** A sequence's state: `SELECT last_value, is_called FROM seq`. */
export interface SequenceState {
  lastValue: string;
  isCalled: boolean;
}

/** The value `nextval` would return next. */
export function nextValue(s: SequenceState, increment: bigint): bigint {
  return s.isCalled ? BigInt(s.lastValue) + increment : BigInt(s.lastValue);
}

/**
 * A target sequence is at or past the source's when its next value is not behind the
 * source's next value (for a descending sequence: not above it). A source sequence
 * that was never called only needs the target not to be behind its start.
 */
export function sequenceOk(source: SequenceState, target: SequenceState, increment: bigint): boolean {
  const s = nextValue(source, increment);
  const t = nextValue(target, increment);
  return increment >= 0n ? t >= s : t <= s;
}

/** Each target sequence of each service is at or past the source's value. */
export async function sequenceChecks(ctx: VerifyContext): Promise<Check[]> {
  const items = stepsOf(ctx.plan, 'sync_sequences').flatMap((step) =>
    step.sequences.map((seq) => ({ step, seq, service: step.service ?? step.target.service })),
  );
  return mapLimit(items, ctx.jobs, async ({ step, seq, service }): Promise<Check> => {
    const key = `${seq.target.schema}.${seq.target.name}`;
    const base = { kind: 'sequence' as const, service, table: key };
    const read = `SELECT last_value::text AS "lastValue", is_called AS "isCalled" FROM ${qname(seq.source)}`;
    try {
      const target = ctx.pools.pool(step.target.server, step.target.database);
      const [s, t, inc] = await Promise.all([
        ctx.pools.pool('source').query<SequenceState>(read),
        target.query<SequenceState>(`SELECT last_value::text AS "lastValue", is_called AS "isCalled" FROM ${qname(seq.target)}`),
        target.query<{ inc: string }>(`SELECT seqincrement::text AS inc FROM pg_sequence WHERE seqrelid = $1::regclass`, [qname(seq.target)]),
      ]);
      const source = s.rows[0]!;
      const dest = t.rows[0]!;
      const increment = BigInt(inc.rows[0]?.inc ?? '1');
      const ok = sequenceOk(source, dest, increment);
      const sn = nextValue(source, increment);
      const tn = nextValue(dest, increment);
      return {
        ...base,
        ok,
        source,
        target: dest,
        detail: ok
          ? `next value ${tn} (source ${sn})`
          : `behind the source: next value in ${step.target.database} is ${tn}, the source's is ${sn}; new rows would reuse ids (SELECT setval('${qname(seq.target).replaceAll("'", "''")}', ${source.lastValue}, ${source.isCalled}))`,
      };
    } catch (err) {
      return { ...base, ok: false, detail: `cannot read the sequence: ${errorText(err)}`, ...unverifiedBy(err) };
    }
  });
}
