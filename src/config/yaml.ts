import { Scalar, isAlias, isMap, isScalar, isSeq, parseAllDocuments, parseDocument, type Document } from 'yaml';
import { ConfigEditError } from './config-edit-error.js';
import { splitPath } from './path.js';

/**
 * `.yaml`/`.yml` files (several documents allowed). The scalar at a dotted path is
 * located with the yaml Document API and replaced in place, in its own quoting style,
 * so comments, key order, anchors and formatting stay byte for byte. Only a block
 * scalar (`|`, `>`) or an empty value is rewritten through `setIn`, which reformats
 * that document.
 */

type Found = { node: unknown; parent: unknown };

function parse(text: string): Document.Parsed[] {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return [];
  const bad = docs.flatMap((d) => d.errors)[0];
  if (bad) {
    throw new ConfigEditError(`not valid YAML: ${bad.message.split('\n')[0]}`, 'fix the YAML syntax of the file, then plan again', '', '', { cause: bad });
  }
  return docs;
}

function children(node: unknown, segment: string): Found[] {
  if (isMap(node)) {
    return node.items
      .filter((p) => isScalar(p.key) && String(p.key.value) === segment)
      .map((p) => ({ node: p.value, parent: node }));
  }
  if (isSeq(node) && /^\d+$/.test(segment)) {
    const i = Number(segment);
    return i < node.items.length ? [{ node: node.items[i], parent: node }] : [];
  }
  return [];
}

function find(doc: Document.Parsed, segments: string[]): Found[] {
  let found: Found[] = [{ node: doc.contents, parent: null }];
  for (const s of segments) found = found.flatMap((f) => children(f.node, s));
  return found;
}

/** The value at `path` in the first document that has it, as a string; null when absent. */
export function readYaml(text: string, path: string): string | null {
  const segments = splitPath(path);
  for (const doc of parse(text)) {
    const f = find(doc, segments)[0];
    if (f) return isScalar(f.node) ? String(f.node.value ?? '') : f.node == null ? '' : null;
  }
  return null;
}

/** Sets the scalar at `path` (in every document that has it) to the string `value`. */
export function editYaml(text: string, path: string, value: string): string {
  const segments = splitPath(path);
  const docs = parse(text);
  const targets = docs.flatMap((doc) => find(doc, segments).map((f) => ({ doc, ...f })));
  if (targets.length === 0) throw missing(docs, segments, path);
  let out = text;
  for (const t of targets) {
    if (isAlias(t.node)) {
      throw new ConfigEditError(`${path} is an alias (*${t.node.source})`, `point \`key\` at the anchored value &${t.node.source} instead`);
    }
    if (t.node != null && !isScalar(t.node)) {
      throw new ConfigEditError(`${path} holds a ${isMap(t.node) ? 'mapping' : 'list'}, not a value`, 'point `key` at the value that holds the database name or URL');
    }
  }
  const inPlace = targets.every((t) => isScalar(t.node) && t.node.range && !t.node.type?.startsWith('BLOCK'));
  if (!inPlace) return viaSetIn(text, docs, segments, value);
  for (const t of [...targets].sort((a, b) => start(b.node) - start(a.node))) {
    out = splice(out, t.node as Scalar, segments, value);
  }
  return out;
}

function start(node: unknown): number {
  return isScalar(node) && node.range ? node.range[0] : 0;
}

/** Replaces one scalar in its own style, or double-quoted when its style cannot hold the value. */
function splice(text: string, node: Scalar, segments: string[], value: string): string {
  const [from, to] = node.range!;
  // An empty value (`name:`) has an empty range right after the colon.
  const pad = from === to && text[from - 1] === ':' ? ' ' : '';
  const styles: Array<Scalar['type']> = [node.type, Scalar.QUOTE_DOUBLE];
  for (const style of styles) {
    const candidate = text.slice(0, from) + pad + render(value, style) + text.slice(to);
    if (holds(candidate, segments, from + pad.length, value)) return candidate;
  }
  throw new ConfigEditError(`the new value cannot be written at ${segments.join('.')}`, 'write the value there as a plain or quoted scalar, then plan again');
}

function render(value: string, style: Scalar['type']): string {
  if (style === 'PLAIN') return value;
  if (style === 'QUOTE_SINGLE') return `'${value.replace(/'/g, "''")}'`;
  return JSON.stringify(value);
}

function holds(text: string, segments: string[], from: number, value: string): boolean {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs) || docs.some((d) => d.errors.length > 0)) return false;
  return docs.some((d) => find(d, segments).some((f) => isScalar(f.node) && f.node.range?.[0] === from && f.node.value === value));
}

function viaSetIn(text: string, docs: Document.Parsed[], segments: string[], value: string): string {
  if (docs.length !== 1) {
    throw new ConfigEditError(`${segments.join('.')} is a block scalar or empty in a file of several documents`, 'write the value there as a plain or quoted scalar, then plan again');
  }
  const doc = parseDocument(text);
  const keys = keyPath(doc, segments);
  doc.setIn(keys, value);
  return doc.toString();
}

/** Path segments as the Document API wants them: numbers for list indexes. */
function keyPath(doc: Document.Parsed, segments: string[]): Array<string | number> {
  let node: unknown = doc.contents;
  return segments.map((s) => {
    const key: string | number = isSeq(node) ? Number(s) : s;
    node = children(node, s)[0]?.node;
    return key;
  });
}

function missing(docs: Document.Parsed[], segments: string[], path: string): ConfigEditError {
  let best: { depth: number; node: unknown } = { depth: 0, node: docs[0]?.contents };
  for (const doc of docs) {
    let found: Found[] = [{ node: doc.contents, parent: null }];
    for (let depth = 0; depth < segments.length; depth++) {
      const next = found.flatMap((f) => children(f.node, segments[depth]!));
      if (next.length === 0) {
        if (depth > best.depth || (depth === best.depth && best.node == null)) best = { depth, node: found[0]!.node };
        break;
      }
      found = next;
    }
  }
  const at = best.depth === 0 ? 'the top level' : segments.slice(0, best.depth).join('.');
  const has = isMap(best.node)
    ? `keys: ${best.node.items.map((p) => (isScalar(p.key) ? String(p.key.value) : '?')).join(', ') || '(none)'}`
    : isSeq(best.node)
      ? `${best.node.items.length} items`
      : 'no keys';
  return new ConfigEditError(
    `path ${path} not found: ${at} has no "${segments[best.depth]!}" (it has ${has})`,
    'correct `key` in the manifest to the dotted path of the value, e.g. database.url',
  );
}
