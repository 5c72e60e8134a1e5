import { ConfigEditError } from './config-edit-error.js';

/**
 * `.env` files: `KEY=value`, `export KEY=value`, values unquoted (up to a ` #` comment),
 * in double, single or back quotes (which may span lines). Everything but the edited
 * values stays byte for byte: comments, blank lines, order, spacing, line endings.
 */
interface Assignment {
  key: string;
  quote: '"' | "'" | '`' | '';
  /** Offsets of the raw value, quotes excluded. */
  start: number;
  end: number;
}

const ASSIGNMENT = /^([ \t]*(?:export[ \t]+)?)([A-Za-z_][A-Za-z0-9_.-]*)([ \t]*=[ \t]*)/;

function assignments(text: string): Assignment[] {
  const out: Assignment[] = [];
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const lineEnd = nl < 0 ? text.length : nl;
    const line = text.slice(pos, lineEnd).replace(/\r$/, '');
    const m = ASSIGNMENT.exec(line);
    let next = lineEnd + 1;
    if (m) {
      const key = m[2]!;
      const at = pos + m[0].length;
      const q = text[at];
      const close = q === '"' || q === "'" || q === '`' ? closingQuote(text, at) : -1;
      if (close >= 0) {
        out.push({ key, quote: q as Assignment['quote'], start: at + 1, end: close });
        const after = text.indexOf('\n', close);
        next = after < 0 ? text.length : after + 1;
      } else {
        const raw = line.slice(m[0].length);
        const comment = raw.search(/[ \t]#/);
        const value = (comment < 0 ? raw : raw.slice(0, comment)).replace(/[ \t]+$/, '');
        out.push({ key, quote: '', start: at, end: at + value.length });
      }
    }
    pos = next;
  }
  return out;
}

function closingQuote(text: string, at: number): number {
  const q = text[at];
  let i = at + 1;
  while (i < text.length && text[i] !== q) i += text[i] === '\\' && q !== "'" ? 2 : 1;
  return i < text.length ? i : -1;
}

function decode(raw: string, quote: Assignment['quote']): string {
  if (quote === '"') return raw.replace(/\\"/g, '"');
  if (quote === '`') return raw.replace(/\\`/g, '`');
  return raw;
}

function encode(value: string, quote: Assignment['quote']): string {
  if (quote === '"') return `"${value.replace(/"/g, '\\"')}"`;
  if ((quote === "'" || quote === '`') && !value.includes(quote)) return `${quote}${value}${quote}`;
  if (quote === '' && /^[^\s#"'`\\]*$/.test(value)) return value;
  return encode(value, '"');
}

/** The value of `key` (the last one when it is set several times), or null when absent. */
export function readDotenv(text: string, key: string): string | null {
  const found = assignments(text).filter((a) => a.key === key);
  const last = found[found.length - 1];
  return last ? decode(text.slice(last.start, last.end), last.quote) : null;
}

/**
 * Sets every assignment of `key` to `value`, in the quoting of the existing value
 * (a new value that needs quotes gets double quotes). A missing key is an error:
 * a `.env` file is never extended.
 */
export function editDotenv(text: string, key: string, value: string): string {
  const all = assignments(text);
  const found = all.filter((a) => a.key === key);
  if (found.length === 0) {
    const keys = [...new Set(all.map((a) => a.key))];
    throw new ConfigEditError(
      `key ${key} is not set in the file`,
      `add a line ${key}=... to the file, or set \`key\` to one of its keys${keys.length ? `: ${keys.join(', ')}` : ' (it has none)'}`,
    );
  }
  let out = text;
  for (const a of found.reverse()) {
    const replacement = encode(value, a.quote);
    const start = a.quote ? a.start - 1 : a.start;
    const end = a.quote ? a.end + 1 : a.end;
    out = out.slice(0, start) + replacement + out.slice(end);
  }
  if (readDotenv(out, key) !== value) {
    throw new ConfigEditError(
      `the new value of ${key} cannot be written in this file's quoting`,
      'quote the existing value with double quotes in the file, then plan again',
    );
  }
  return out;
}
