/**
 * Client-side quoting for generated SQL. Every identifier is always double-quoted
 * (like quote_all_identifiers), every literal single-quoted with E'' when it holds
 * a backslash. NUL bytes cannot be represented and are rejected.
 */
export function ident(name: string): string {
  if (name.includes('\0')) throw new Error('identifier contains a NUL byte');
  return `"${name.replaceAll('"', '""')}"`;
}

/** `"schema"."name"` */
export function qname(t: { schema: string; name: string }): string {
  return `${ident(t.schema)}.${ident(t.name)}`;
}

export function literal(value: string): string {
  if (value.includes('\0')) throw new Error('literal contains a NUL byte');
  const body = value.replaceAll("'", "''");
  return value.includes('\\') ? ` E'${body.replaceAll('\\', '\\\\')}'`.trimStart() : `'${body}'`;
}

/** Parses `schema.name` (or `name`, in `defaultSchema`) as written in a manifest. Quotes allowed: `"My Schema"."Odd ""name"""`. */
export function parseQualified(text: string, defaultSchema: string): { schema: string; name: string } {
  const parts: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"') {
      let j = i + 1;
      let part = '';
      for (;;) {
        if (j >= text.length) throw new Error(`unterminated quote in ${text}`);
        if (text[j] === '"') {
          if (text[j + 1] === '"') {
            part += '"';
            j += 2;
            continue;
          }
          break;
        }
        part += text[j];
        j++;
      }
      parts.push(part);
      i = j + 1;
    } else {
      const dot = text.indexOf('.', i);
      const end = dot === -1 ? text.length : dot;
      parts.push(text.slice(i, end));
      i = end;
    }
    if (text[i] === '.') i++;
    else if (i < text.length) throw new Error(`unexpected character after quoted name in ${text}`);
  }
  if (parts.length === 1) return { schema: defaultSchema, name: parts[0]! };
  if (parts.length === 2) return { schema: parts[0]!, name: parts[1]! };
  throw new Error(`too many dots in ${text}`);
}
