/**
 * Secret masking for anything shown or stored about a config file (diffs, the journal's
 * reverse patches): the password of every URL (`scheme://user:***@host`) and the value
 * of every key that names a secret (`DB_PASSWORD=***`, `"apiToken": "***"`). Masking is
 * structural, so `secretSpans` finds the same spans, holding `***`, in a masked line:
 * that is what lets `unmaskLines` put the secrets back from the current file.
 */
export interface Span {
  start: number;
  end: number;
}

export const MASK = '***';

const URL_PASSWORD = /[a-z][a-z0-9+.-]*:\/\/[^\s:/@'"`]*:([^\s/'"`]*)@/dgi;
const SECRET_KEY =
  /[A-Za-z0-9_.-]*(?:passw(?:or)?d|pass|pwd|(?<![A-Za-z0-9])pw(?![A-Za-z0-9])|secret|token|api[_-]?key|private[_-]?key|credentials?)[A-Za-z0-9_.-]*["'`]?\s*[:=][ \t]*/gi;

/** Spans of secret values in one line, sorted, not overlapping. */
export function secretSpans(line: string): Span[] {
  const spans: Span[] = [];
  for (const m of line.matchAll(SECRET_KEY)) {
    const at = (m.index ?? 0) + m[0].length;
    const value = valueAt(line, at);
    if (value && !line.slice(value.start, value.end).includes('://')) spans.push(value);
  }
  for (const m of line.matchAll(URL_PASSWORD)) {
    const range = m.indices?.[1];
    if (range && range[1] > range[0]) spans.push({ start: range[0], end: range[1] });
  }
  spans.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: Span[] = [];
  for (const s of spans) {
    const last = out[out.length - 1];
    if (!last || s.start >= last.end) out.push(s);
  }
  return out;
}

function valueAt(line: string, at: number): Span | null {
  const q = line[at];
  if (q === '"' || q === "'" || q === '`') {
    let i = at + 1;
    while (i < line.length && line[i] !== q) i += line[i] === '\\' && q !== "'" ? 2 : 1;
    const end = Math.min(i, line.length);
    return end > at + 1 ? { start: at + 1, end } : null;
  }
  const m = /^[^\s,;#]+/.exec(line.slice(at));
  return m ? { start: at, end: at + m[0].length } : null;
}

/** The line with every secret replaced by `***`. */
export function maskLine(line: string): string {
  let out = '';
  let from = 0;
  for (const s of secretSpans(line)) {
    out += line.slice(from, s.start) + MASK;
    from = s.end;
  }
  return out + line.slice(from);
}

/** Every line of `text` masked; line terminators are kept. */
export function maskText(text: string): string {
  return text
    .split(/(\r?\n)/)
    .map((part, i) => (i % 2 === 0 ? maskLine(part) : part))
    .join('');
}

/**
 * Puts secrets back into masked lines, taking them in order from `source` (the lines
 * that replaced the masked ones, which keep the same secrets). Null when the counts
 * differ: the caller cannot rebuild the original from the current file.
 */
export function unmaskLines(masked: string[], source: string[]): string[] | null {
  const secrets = source.flatMap((l) => secretSpans(l).map((s) => l.slice(s.start, s.end)));
  let next = 0;
  const out: string[] = [];
  for (const line of masked) {
    let rebuilt = '';
    let from = 0;
    for (const s of secretSpans(line)) {
      if (line.slice(s.start, s.end) !== MASK) continue;
      const secret = secrets[next++];
      if (secret === undefined) return null;
      rebuilt += line.slice(from, s.start) + secret;
      from = s.end;
    }
    out.push(rebuilt + line.slice(from));
  }
  return next === secrets.length ? out : null;
}
