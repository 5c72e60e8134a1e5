import { ConfigEditError } from './config-edit-error.js';
import { parseJsonSpans, type JsonNode } from './json-spans.js';
import { splitPath } from './path.js';

/**
 * `.json` files. The value at a dotted path is replaced in place, so indentation
 * (spaces or tabs, any width), key order, spacing, comments and the trailing newline
 * all stay byte for byte.
 */

/** The string at `path` (the last one when a key is repeated), or null when absent. */
export function readJson(text: string, path: string): string | null {
  const nodes = find(parseJsonSpans(text), splitPath(path));
  const last = nodes[nodes.length - 1];
  if (!last) return null;
  return last.kind === 'string' ? last.value : text.slice(last.start, last.end);
}

/** Sets the string at `path` to `value`; a missing path or a non-string value is an error. */
export function editJson(text: string, path: string, value: string): string {
  const segments = splitPath(path);
  const root = parseJsonSpans(text);
  const nodes = find(root, segments);
  if (nodes.length === 0) throw missing(root, segments, path);
  const wrong = nodes.find((n) => n.kind !== 'string');
  if (wrong) {
    throw new ConfigEditError(
      `${path} holds ${wrong.kind === 'object' || wrong.kind === 'array' ? `an ${wrong.kind}` : `a ${wrong.kind}`}, not a string`,
      'point `key` at the string that holds the database name or URL',
    );
  }
  let out = text;
  for (const n of [...nodes].sort((a, b) => b.start - a.start)) {
    out = out.slice(0, n.start) + JSON.stringify(value) + out.slice(n.end);
  }
  return out;
}

function children(node: JsonNode, segment: string): JsonNode[] {
  if (node.kind === 'object') return node.entries.filter((e) => e.key === segment).map((e) => e.value);
  if (node.kind === 'array' && /^\d+$/.test(segment)) {
    const item = node.items[Number(segment)];
    return item ? [item] : [];
  }
  return [];
}

function find(root: JsonNode, segments: string[]): JsonNode[] {
  let nodes = [root];
  for (const s of segments) nodes = nodes.flatMap((n) => children(n, s));
  return nodes;
}

function missing(root: JsonNode, segments: string[], path: string): ConfigEditError {
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
    node.kind === 'object'
      ? `keys: ${node.entries.map((e) => e.key).join(', ') || '(none)'}`
      : node.kind === 'array'
        ? `${node.items.length} items`
        : `a ${node.kind}`;
  return new ConfigEditError(
    `path ${path} not found: ${at} has no "${segments[depth]!}" (it has ${has})`,
    'correct `key` in the manifest to the dotted path of the value, e.g. database.url',
  );
}
