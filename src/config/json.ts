import { parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';
import { ConfigEditError } from './config-edit-error.js';
import { splitPath } from './path.js';

/**
 * `.json` files, as editors accept them (`//` and `/* *\/` comments, trailing commas),
 * parsed with `jsonc-parser`. The value at a dotted path is replaced in place, so
 * indentation (spaces or tabs, any width), key order, spacing, comments and the
 * trailing newline all stay byte for byte. A repeated key is edited everywhere it
 * appears (parsers disagree on which one wins).
 */

/** The string at `path` (the last one when a key is repeated), or null when absent. */
export function readJson(text: string, path: string): string | null {
  const { root, offset } = parse(text);
  const last = find(root, splitPath(path)).at(-1);
  if (!last) return null;
  return last.type === 'string' ? (last.value as string) : text.slice(offset + last.offset, offset + last.offset + last.length);
}

/** Sets the string at `path` to `value`; a missing path or a non-string value is an error. */
export function editJson(text: string, path: string, value: string): string {
  const segments = splitPath(path);
  const { root, offset } = parse(text);
  const nodes = find(root, segments);
  if (nodes.length === 0) throw missing(root, segments, path);
  const wrong = nodes.find((n) => n.type !== 'string');
  if (wrong) {
    const kind = wrong.type === 'boolean' ? String(wrong.value) : wrong.type;
    throw new ConfigEditError(
      `${path} holds ${kind === 'object' || kind === 'array' ? `an ${kind}` : `a ${kind}`}, not a string`,
      'point `key` at the string that holds the database name or URL',
    );
  }
  let out = text;
  for (const n of [...nodes].sort((a, b) => b.offset - a.offset)) {
    const start = offset + n.offset;
    out = out.slice(0, start) + JSON.stringify(value) + out.slice(start + n.length);
  }
  return out;
}

/** The tree of `text` (a leading byte-order mark is skipped: `offset` is 1 then); the first syntax error is thrown. */
function parse(text: string): { root: Node; offset: number } {
  const offset = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const body = text.slice(offset);
  const errors: ParseError[] = [];
  const root = parseTree(body, errors, { allowTrailingComma: true, disallowComments: false, allowEmptyContent: false });
  const first = errors[0];
  if (first || !root) {
    const at = first?.offset ?? body.length;
    const before = body.slice(0, at);
    const line = before.split('\n').length;
    const column = at - before.lastIndexOf('\n');
    const what = first ? printParseErrorCode(first.error) : 'ValueExpected';
    throw new ConfigEditError(`not valid JSON: ${what} at line ${line}, column ${column}`, 'fix the JSON syntax of the file, then plan again');
  }
  return { root, offset };
}

function children(node: Node, segment: string): Node[] {
  if (node.type === 'object') {
    return (node.children ?? []).filter((p) => p.children?.[0]?.value === segment).flatMap((p) => (p.children?.[1] ? [p.children[1]] : []));
  }
  if (node.type === 'array' && /^\d+$/.test(segment)) {
    const item = node.children?.[Number(segment)];
    return item ? [item] : [];
  }
  return [];
}

function find(root: Node, segments: string[]): Node[] {
  let nodes = [root];
  for (const s of segments) nodes = nodes.flatMap((n) => children(n, s));
  return nodes;
}

function missing(root: Node, segments: string[], path: string): ConfigEditError {
  let nodes = [root];
  let depth = 0;
  for (; depth < segments.length; depth++) {
    const next = nodes.flatMap((n) => children(n, segments[depth]!));
    if (next.length === 0) break;
    nodes = next;
  }
  const at = depth === 0 ? 'the top level' : segments.slice(0, depth).join('.');
  const node = nodes[nodes.length - 1]!;
  const has =
    node.type === 'object'
      ? `keys: ${(node.children ?? []).map((p) => String(p.children?.[0]?.value)).join(', ') || '(none)'}`
      : node.type === 'array'
        ? `${node.children?.length ?? 0} items`
        : `a ${node.type}`;
  return new ConfigEditError(
    `path ${path} not found: ${at} has no "${segments[depth]!}" (it has ${has})`,
    'correct `key` in the manifest to the dotted path of the value, e.g. database.url',
  );
}
