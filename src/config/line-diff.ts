/**
 * A line diff: the shortest edit script between two lists of lines, as runs of
 * kept, removed and added lines. Common prefix and suffix are trimmed first (config
 * edits are local), the middle is solved exactly by longest common subsequence.
 */
export type LineOp = { op: 'keep' | 'remove' | 'add'; line: string };

/** Above this many cells the middle is shown as replaced wholesale (still a valid diff). */
const MAX_CELLS = 4_000_000;

/** Lines of `text`, each with its terminator (`\n` or `\r\n`); the last may have none. */
export function splitLines(text: string): string[] {
  return text === '' ? [] : text.split(/(?<=\n)/);
}

export function diffLines(a: string[], b: string[]): LineOp[] {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const ops: LineOp[] = a.slice(0, pre).map((line) => ({ op: 'keep', line }));
  const midA = a.slice(pre, a.length - suf);
  const midB = b.slice(pre, b.length - suf);
  ops.push(...middle(midA, midB));
  ops.push(...a.slice(a.length - suf).map((line): LineOp => ({ op: 'keep', line })));
  return ops;
}

function middle(a: string[], b: string[]): LineOp[] {
  const n = a.length;
  const m = b.length;
  if (n * m > MAX_CELLS || n === 0 || m === 0) {
    return [...a.map((line): LineOp => ({ op: 'remove', line })), ...b.map((line): LineOp => ({ op: 'add', line }))];
  }
  // lcs[i][j] = length of the LCS of a[i..] and b[j..], stored flat.
  const w = m + 1;
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * w + j] = a[i] === b[j] ? lcs[(i + 1) * w + j + 1]! + 1 : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!);
    }
  }
  const ops: LineOp[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ op: 'keep', line: a[i++]! });
      j++;
    } else if (i < n && (j === m || lcs[(i + 1) * w + j]! >= lcs[i * w + j + 1]!)) {
      ops.push({ op: 'remove', line: a[i++]! });
    } else {
      ops.push({ op: 'add', line: b[j++]! });
    }
  }
  return ops;
}
