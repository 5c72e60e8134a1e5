/**
 * A libpq key=value connection string (`host=db port=5432 dbname=app password='a b'`)
 * as a map of keyword → value, read the way libpq reads it: keywords separated by
 * whitespace, `=` with optional spaces around it, values unquoted (ending at
 * whitespace) or in single quotes; a backslash escapes the next character in both.
 * Null when the text is not in that form.
 */
export function parseKeywordValue(text: string): Map<string, string> | null {
  const out = new Map<string, string>();
  let i = 0;
  const n = text.length;
  const space = (c: string | undefined) => c !== undefined && /\s/.test(c);
  for (;;) {
    while (space(text[i])) i++;
    if (i >= n) break;
    const key = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))?.[0];
    if (!key) return null;
    i += key.length;
    while (space(text[i])) i++;
    if (text[i] !== '=') return null;
    i++;
    while (space(text[i])) i++;
    let value = '';
    if (text[i] === "'") {
      i++;
      for (;;) {
        if (i >= n) return null;
        const c = text[i]!;
        if (c === '\\' && i + 1 < n) {
          value += text[i + 1];
          i += 2;
        } else if (c === "'") {
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
    } else {
      while (i < n && !space(text[i])) {
        if (text[i] === '\\' && i + 1 < n) {
          value += text[i + 1];
          i += 2;
        } else value += text[i++];
      }
    }
    out.set(key.toLowerCase(), value);
  }
  return out.size > 0 ? out : null;
}

/** A value written for a key=value string: quoted, with `'` and `\` escaped. */
export function quoteKeywordValue(value: string): string {
  return `'${value.replace(/[\\']/g, '\\$&')}'`;
}
