import { ConfigEditError } from './config-edit-error.js';

/**
 * A JSON document parsed with the offsets of every value, so one value can be replaced
 * in the original text and every other byte kept. Accepts what editors accept in
 * `.json` config files besides strict JSON: `//` and `/* *\/` comments, trailing commas.
 */
export type JsonNode =
  | { kind: 'object'; start: number; end: number; entries: Array<{ key: string; value: JsonNode }> }
  | { kind: 'array'; start: number; end: number; items: JsonNode[] }
  | { kind: 'string'; start: number; end: number; value: string }
  | { kind: 'number' | 'true' | 'false' | 'null'; start: number; end: number };

export function parseJsonSpans(text: string): JsonNode {
  const p = new Parser(text);
  p.skip();
  const root = p.value();
  p.skip();
  if (p.pos < text.length) p.fail('unexpected text after the document');
  return root;
}

class Parser {
  pos = 0;
  constructor(private readonly text: string) {
    if (text.charCodeAt(0) === 0xfeff) this.pos = 1;
  }

  fail(what: string): never {
    const before = this.text.slice(0, this.pos);
    const line = before.split('\n').length;
    const column = this.pos - before.lastIndexOf('\n');
    throw new ConfigEditError(`not valid JSON: ${what} at line ${line}, column ${column}`, 'fix the JSON syntax of the file, then plan again');
  }

  skip(): void {
    const t = this.text;
    for (;;) {
      const c = t[this.pos];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') this.pos++;
      else if (c === '/' && t[this.pos + 1] === '/') {
        const nl = t.indexOf('\n', this.pos);
        this.pos = nl < 0 ? t.length : nl;
      } else if (c === '/' && t[this.pos + 1] === '*') {
        const close = t.indexOf('*/', this.pos + 2);
        if (close < 0) this.fail('unterminated comment');
        this.pos = close + 2;
      } else return;
    }
  }

  value(): JsonNode {
    const t = this.text;
    const start = this.pos;
    const c = t[start];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') {
      const end = this.string();
      return { kind: 'string', start, end, value: this.decode(start, end) };
    }
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(t.slice(start, start + 400));
    if (!m) this.fail(c === undefined ? 'unexpected end of file' : `unexpected ${JSON.stringify(c)}`);
    this.pos += m[0].length;
    const kind = m[0] === 'true' || m[0] === 'false' || m[0] === 'null' ? m[0] : 'number';
    return { kind, start, end: this.pos };
  }

  /** Consumes a string token; returns its end offset. */
  string(): number {
    const t = this.text;
    let i = this.pos + 1;
    while (i < t.length && t[i] !== '"') {
      if (t[i] === '\n') break;
      i += t[i] === '\\' ? 2 : 1;
    }
    if (t[i] !== '"') this.fail('unterminated string');
    this.pos = i + 1;
    return this.pos;
  }

  decode(start: number, end: number): string {
    try {
      return JSON.parse(this.text.slice(start, end)) as string;
    } catch {
      this.pos = start;
      return this.fail('bad string');
    }
  }

  object(): JsonNode {
    const start = this.pos++;
    const entries: Array<{ key: string; value: JsonNode }> = [];
    for (;;) {
      this.skip();
      if (this.text[this.pos] === '}') break;
      if (this.text[this.pos] !== '"') this.fail('expected a key');
      const keyStart = this.pos;
      const key = this.decode(keyStart, this.string());
      this.skip();
      if (this.text[this.pos] !== ':') this.fail('expected ":"');
      this.pos++;
      this.skip();
      entries.push({ key, value: this.value() });
      this.skip();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== '}') this.fail('expected "," or "}"');
    }
    this.pos++;
    return { kind: 'object', start, end: this.pos, entries };
  }

  array(): JsonNode {
    const start = this.pos++;
    const items: JsonNode[] = [];
    for (;;) {
      this.skip();
      if (this.text[this.pos] === ']') break;
      items.push(this.value());
      this.skip();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== ']') this.fail('expected "," or "]"');
    }
    this.pos++;
    return { kind: 'array', start, end: this.pos, items };
  }
}
