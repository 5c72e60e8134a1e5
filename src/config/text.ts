import { ConfigEditError } from './config-edit-error.js';
import { maskLine } from './mask.js';

/**
 * Any other text file (`app.module.ts`, `atlas.hcl`, start scripts): every literal
 * occurrence of `replace` becomes `replacement`; no pattern syntax, no `$` specials.
 * A text with no occurrence is an error.
 */
export function editText(text: string, replace: string, replacement: string): string {
  if (replace === '') {
    throw new ConfigEditError('`replace` is empty', 'set `replace` to the literal text to change, e.g. "\'cloudphone_core\'"');
  }
  const parts = text.split(replace);
  if (parts.length === 1) {
    throw new ConfigEditError(
      `the text ${JSON.stringify(maskLine(replace))} does not occur in the file`,
      'copy `replace` from the file exactly (quotes and spaces included), or remove the entry if the file was already changed',
    );
  }
  return parts.join(replacement);
}

/** How many times `replace` occurs in `text`. */
export function countOccurrences(text: string, replace: string): number {
  return replace === '' ? 0 : text.split(replace).length - 1;
}
