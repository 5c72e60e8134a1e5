/** Median, fastest and slowest of repeated measurements, and their spread. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  /** (max - min) / median: 0 when every run measured the same. */
  spread: number;
  n: number;
}

/** The middle value (the mean of the two middle ones for an even count); null for no values. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function summarize(values: readonly number[]): Summary | null {
  const m = median(values);
  if (m === null) return null;
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { median: m, min, max, spread: m > 0 ? (max - min) / m : 0, n: values.length };
}

/** The index of the run whose value is the median (the lower middle one for an even count). */
export function medianIndex(values: readonly number[]): number {
  const order = values.map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v);
  return order[Math.floor((order.length - 1) / 2)]!.i;
}
