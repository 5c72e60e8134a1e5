import type { QualifiedName } from '../catalog/model.js';

/** One dot-separated part of a name as written in the manifest. Quoted parts are literal. */
export interface NamePart {
  text: string;
  quoted: boolean;
}

/**
 * Splits a manifest name (`users`, `app.users`, `"My Schema"."Odd ""name"""`,
 * `users.username`) into parts. A part is either a whole double-quoted
 * identifier (`""` inside stands for one `"`) or unquoted text without dots.
 * Returns a reason instead when the text cannot be split.
 */
export function parseNameParts(text: string): NamePart[] | { error: string } {
  const parts: NamePart[] = [];
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      let j = i + 1;
      let part = '';
      for (;;) {
        if (j >= text.length) return { error: 'a double quote is not closed' };
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
      if (part === '') return { error: 'a quoted name is empty' };
      parts.push({ text: part, quoted: true });
      i = j + 1;
      if (i < text.length && text[i] !== '.') return { error: 'a quoted name must be followed by a dot or end the name' };
    } else {
      const dot = text.indexOf('.', i);
      const end = dot === -1 ? text.length : dot;
      const part = text.slice(i, end);
      if (part === '') return { error: 'a name part is empty (two dots, or a dot at the start or end)' };
      if (part.includes('"')) return { error: 'double quotes must enclose a whole name part, like "My Table"' };
      parts.push({ text: part, quoted: false });
      i = end;
    }
    if (i >= text.length) return parts;
    i++; // the dot
    if (i >= text.length) return { error: 'a name part is empty (two dots, or a dot at the start or end)' };
  }
}

const PLAIN_PART = /^[A-Za-z0-9_$ -]+$/;
const GLOB_CHARS = /[*?[\]{}()!+@]/;

/** One name part as the manifest must spell it: quoted when plain text would be misread. */
export function manifestPart(text: string): string {
  if (PLAIN_PART.test(text) && !GLOB_CHARS.test(text) && text.trim() === text) return text;
  return `"${text.replaceAll('"', '""')}"`;
}

/**
 * How to write a table in the manifest: unqualified when no other schema of
 * `schemas` holds a table of the same name, else `schema.name`.
 */
export function manifestName(t: QualifiedName, ambiguous: boolean): string {
  return ambiguous ? `${manifestPart(t.schema)}.${manifestPart(t.name)}` : manifestPart(t.name);
}

/** A YAML flow scalar for `text`, quoted only when YAML would read it otherwise. */
export function yamlScalar(text: string): string {
  if (/^[A-Za-z0-9_][A-Za-z0-9_.$-]*$/.test(text)) return text;
  if (!text.includes("'")) return `'${text}'`;
  return JSON.stringify(text);
}
