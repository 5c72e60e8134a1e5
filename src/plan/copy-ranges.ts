import type { KeyRange } from '../catalog/key-ranges.js';
import { ident } from '../pg/quote.js';
import { parseByteSize } from '../format/byte-size.js';

/**
 * How large copies are split: a moved table larger than `largerThan` bytes with an
 * integer primary key is copied as ranges of that key of about `largerThan` bytes
 * each (at most `maxRanges`), each range its own journaled step.
 */
export interface SplitPolicy {
  largerThan: number;
  maxRanges: number;
  /** A table larger than this gets one create_indexes step per index (built in parallel), then one that attaches the keys. */
  indexStepsLargerThan: number;
}

/**
 * Splitting costs COPY FREEZE on every range but the first (the table is not
 * truncated in their transactions), so the first read of those rows sets hint
 * bits and VACUUM has to visit them: on a small machine that costs more than the
 * parallel streams gain (docs/benchmarks.md). Hence a high default: ranges are
 * for tables whose copy is worth resuming in pieces.
 */
export const DEFAULT_SPLIT: SplitPolicy = { largerThan: 8 * 2 ** 30, maxRanges: 16, indexStepsLargerThan: 64 * 2 ** 20 };

/** The environment variable that sets `largerThan` (`512MB`, `1GB`, a byte count; `off` or 0 disables splitting). */
export const SPLIT_ENV = 'CLOUDPHONE_SPLIT_TABLES_LARGER_THAN';

/** `64MB`, `1.5GB`, `1048576` → bytes (binary units); `off` or 0 → Infinity (never split); null when unreadable. */
export function parseSplitSize(text: string): number | null {
  const t = text.trim().toLowerCase();
  if (t === 'off' || t === '0') return Infinity;
  return parseByteSize(t);
}

/** The split policy from the environment; throws with what to write when the variable is unreadable. */
export function splitPolicyFromEnv(env: NodeJS.ProcessEnv): SplitPolicy {
  const raw = env[SPLIT_ENV];
  if (raw === undefined || raw === '') return DEFAULT_SPLIT;
  const bytes = parseSplitSize(raw);
  if (bytes === null || bytes <= 0) throw new Error(`${SPLIT_ENV}=${raw} is not a size: write e.g. 512MB, 2GB, a number of bytes, or off`);
  return { ...DEFAULT_SPLIT, largerThan: bytes };
}

/** How many ranges a table of `bytes` is copied in (1: not split). */
export function rangeCount(bytes: number, policy: Pick<SplitPolicy, 'largerThan' | 'maxRanges'>): number {
  if (!(bytes > policy.largerThan) || !Number.isFinite(policy.largerThan)) return 1;
  return Math.min(policy.maxRanges, Math.ceil(bytes / policy.largerThan));
}

/**
 * Predicates over the key (on alias `s`) that split [min, max] into `parts` even
 * ranges. The first is open below and the last open above, so together they
 * cover every possible key, including keys written after the plan was made.
 * Fewer predicates are returned when the key range is narrower than `parts`.
 */
export function rangePredicates(range: KeyRange, parts: number): string[] {
  const min = BigInt(range.min);
  const max = BigInt(range.max);
  const span = max - min + 1n;
  const bounds: bigint[] = [];
  for (let k = 1n; k < BigInt(parts); k++) {
    const b = min + (span * k) / BigInt(parts);
    if (b > min && (bounds.length === 0 || b > bounds[bounds.length - 1]!)) bounds.push(b);
  }
  if (bounds.length === 0) return [];
  const col = `s.${ident(range.column)}`;
  const out = [`${col} < ${bounds[0]}`];
  for (let i = 1; i < bounds.length; i++) out.push(`${col} >= ${bounds[i - 1]} AND ${col} < ${bounds[i]}`);
  out.push(`${col} >= ${bounds[bounds.length - 1]}`);
  return out;
}
