import { diffLines, splitLines, type LineOp } from './line-diff.js';
import { maskLine } from './mask.js';

/**
 * A unified diff (`--- file`, `+++ file`, `@@ -l,n +l,n @@` hunks with `context`
 * lines around each change) of a config file, every secret masked as `***`.
 * Empty when the texts are equal.
 */
export function unifiedDiff(file: string, before: string, after: string, context = 3): string {
  if (before === after) return '';
  const ops = diffLines(splitLines(before), splitLines(after));
  const out = [`--- ${file}`, `+++ ${file}`];
  for (const hunk of hunks(ops, context)) {
    out.push(`@@ -${range(hunk.oldStart, hunk.oldCount)} +${range(hunk.newStart, hunk.newCount)} @@`);
    for (const op of hunk.ops) {
      const sign = op.op === 'keep' ? ' ' : op.op === 'remove' ? '-' : '+';
      out.push(sign + maskLine(op.line.replace(/\r?\n$/, '')));
      if (!op.line.endsWith('\n')) out.push('\\ No newline at end of file');
    }
  }
  return `${out.join('\n')}\n`;
}

interface Hunk {
  oldStart: number;
  oldCount: number;
  newStart: number;
  newCount: number;
  ops: LineOp[];
}

function hunks(ops: LineOp[], context: number): Hunk[] {
  const changed = ops.flatMap((op, i) => (op.op === 'keep' ? [] : [i]));
  const out: Hunk[] = [];
  let k = 0;
  while (k < changed.length) {
    const from = Math.max(0, changed[k]! - context);
    let to = changed[k]!;
    while (k + 1 < changed.length && changed[k + 1]! - to <= 2 * context + 1) to = changed[++k]!;
    k++;
    const end = Math.min(ops.length, to + context + 1);
    let oldLine = 0;
    let newLine = 0;
    for (let i = 0; i < from; i++) {
      if (ops[i]!.op !== 'add') oldLine++;
      if (ops[i]!.op !== 'remove') newLine++;
    }
    const slice = ops.slice(from, end);
    const oldCount = slice.filter((o) => o.op !== 'add').length;
    const newCount = slice.filter((o) => o.op !== 'remove').length;
    out.push({
      oldStart: oldCount === 0 ? oldLine : oldLine + 1,
      oldCount,
      newStart: newCount === 0 ? newLine : newLine + 1,
      newCount,
      ops: slice,
    });
  }
  return out;
}

function range(start: number, count: number): string {
  return count === 1 ? String(start) : `${start},${count}`;
}
