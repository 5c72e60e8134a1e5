/** Levenshtein distance, case-insensitive (names typed by hand differ mostly in case and typos). */
export function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (x === y) return 0;
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost));
    }
    prev = cur;
  }
  return prev[y.length]!;
}

/**
 * The candidate closest to `word`, or null when none is close enough to be a
 * plausible typo (within a third of the word's length, at least 2 edits).
 * Ties go to the earliest candidate, so results are deterministic.
 */
export function closest(word: string, candidates: Iterable<string>, maxDistance?: number): string | null {
  const limit = maxDistance ?? Math.max(2, Math.floor(word.length / 3));
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = distance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= limit ? best : null;
}
