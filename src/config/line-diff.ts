import { diffArrays } from 'diff';

/** One run of a line diff: a line kept, removed from the first text, or added by the second. */
export type LineOp = { op: 'keep' | 'remove' | 'add'; line: string };

/** Lines of `text`, each with its terminator (`\n` or `\r\n`); the last may have none. */
export function splitLines(text: string): string[] {
  return text === '' ? [] : text.split(/(?<=\n)/);
}

/** The shortest edit script between two lists of lines (Myers' algorithm, from the `diff` package). */
export function diffLines(a: string[], b: string[]): LineOp[] {
  return diffArrays(a, b).flatMap((part) => {
    const op: LineOp['op'] = part.added ? 'add' : part.removed ? 'remove' : 'keep';
    return part.value.map((line) => ({ op, line }));
  });
}
