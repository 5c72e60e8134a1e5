import { structuredPatch } from 'diff';
import { maskLine } from './mask.js';

/**
 * A unified diff (`--- file`, `+++ file`, `@@ -l,n +l,n @@` hunks with `context`
 * lines around each change) of a config file, every secret masked as `***`.
 * Empty when the texts are equal. The hunks come from the `diff` package; each line is
 * masked here, since a password may sit on a changed line or in its context.
 */
export function unifiedDiff(file: string, before: string, after: string, context = 3): string {
  if (before === after) return '';
  const patch = structuredPatch(file, file, before, after, undefined, undefined, { context });
  const out = [`--- ${file}`, `+++ ${file}`];
  for (const h of patch.hunks) {
    out.push(`@@ -${range(h.oldStart, h.oldLines)} +${range(h.newStart, h.newLines)} @@`);
    for (const line of h.lines) out.push(line.startsWith('\\') ? line : line[0] + maskLine(line.slice(1)));
  }
  return `${out.join('\n')}\n`;
}

/** GNU diff's convention: an empty range names the line before it (`-0,0` for an empty file). */
function range(start: number, count: number): string {
  if (count === 0) return `${start - 1},0`;
  return count === 1 ? String(start) : `${start},${count}`;
}
