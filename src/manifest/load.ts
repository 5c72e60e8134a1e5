import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseDocument, visit, type Document } from 'yaml';
import { BadInputError, ManifestError } from '../errors.js';
import { scrub } from '../secrets/scrubber.js';
import type { Manifest } from './model.js';
import { ProblemList } from './problem-list.js';
import { validateManifest } from './validate.js';

/** A manifest read from disk. `baseDir` (absolute) is the folder config paths are relative to. */
export interface LoadedManifest {
  manifest: Manifest;
  /** The file as written, variables unexpanded: what a plan file stores. */
  text: string;
  file: string;
  baseDir: string;
}

/**
 * Parses and validates manifest YAML (SPEC §1): defaults filled, `${VAR}` left
 * unexpanded. Throws ManifestError with every problem at once: YAML syntax errors
 * (with line and column), unknown keys, wrong types, bad names and identifiers,
 * unknown servers, duplicate databases or roles, bad `${VAR}` syntax.
 */
export function parseManifest(text: string, file: string): Manifest {
  const { manifest, problems } = readManifest(text, file);
  if (problems.length > 0 || manifest === null) throw new ManifestError(problems);
  return manifest;
}

/**
 * The same, without throwing: the problems, and the manifest as far as it could be read
 * (null when the YAML itself cannot be read), so that a caller can add the problems only
 * the source's catalog shows before reporting them all at once.
 */
export function readManifest(text: string, file: string): { manifest: Manifest | null; problems: ManifestError['problems'] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = new ProblemList(file);
    const lines = text.split('\n');
    const seen = new Set<number>();
    let more = 0;
    for (const e of doc.errors) {
      const { line, col } = lineCounter.linePos(e.pos[0]);
      // One error per line (the rest of a line's are its echoes), ten lines at most: the first ones are the ones to fix.
      if (seen.has(line)) continue;
      if (seen.size >= MAX_SYNTAX_ERRORS) {
        more++;
        continue;
      }
      seen.add(line);
      // Without prettyErrors the message holds no source excerpt; drop a quoted source
      // token longer than punctuation and scrub URL credentials, since it may be a password.
      const message = scrub((e.message.split('\n')[0] ?? '').replace(/: "[^]{3,}"$/, ''), []);
      problems.add(`line ${line}, column ${col}`, `YAML syntax error: ${message}`, yamlFix(e.code, lines[line - 1] ?? ''));
    }
    if (more > 0) problems.add('(top level)', `and ${more} more YAML syntax error${more > 1 ? 's' : ''} on later lines`, 'fix the ones above first: later errors often follow from them');
    return { manifest: null, problems: problems.items };
  }
  const aliases = unresolvedAliases(doc, lineCounter, file);
  if (aliases.length > 0) return { manifest: null, problems: aliases };
  let raw: unknown;
  try {
    raw = doc.toJS({ mapAsMap: true, maxAliasCount: 100 });
  } catch (err) {
    const message = `cannot read the YAML: ${(err as Error).message}`;
    return { manifest: null, problems: [{ file, path: '(top level)', message, fix: 'remove the aliases (*name) that expand too much' }] };
  }
  return validateManifest(raw, file);
}

/** `tables: [*_log]` reads `*_log` as an alias of an anchor that does not exist. */
function unresolvedAliases(doc: Document, lineCounter: LineCounter, file: string): ManifestError['problems'] {
  const problems = new ProblemList(file);
  visit(doc, {
    Alias(_key, node) {
      if (node.resolve(doc) !== undefined) return;
      const { line, col } = lineCounter.linePos(node.range?.[0] ?? 0);
      problems.add(
        `line ${line}, column ${col}`,
        `YAML reads *${node.source} as an alias, and no anchor &${node.source} exists`,
        `quote it: "*${node.source}"`,
      );
    },
  });
  return problems.items;
}

const MAX_SYNTAX_ERRORS = 10;

function yamlFix(code: string, line: string): string {
  // `{ password: ${PW} }`: in a flow mapping or list, YAML reads the `{` of an unquoted `${` as a mapping.
  if (/(^|[^"'])\$\{/.test(line) && /[{[]/.test(line.replace(/\$\{[^}]*\}/g, ''))) {
    return 'quote a ${VAR} written inside { } or [ ]: password: "${SVC_PW}" (unquoted, YAML reads its { as the start of a mapping)';
  }
  switch (code) {
    case 'DUPLICATE_KEY':
      return 'write each key once in a mapping (merge the two entries)';
    case 'BAD_ALIAS':
    case 'BAD_SCALAR_START':
      return 'quote values that start with * & ! % @ or `, like "*_log"';
    case 'TAB_AS_INDENT':
      return 'indent with spaces, not tabs';
    case 'BAD_INDENT':
    case 'MISSING_CHAR':
    case 'UNEXPECTED_TOKEN':
      return 'check the indentation and brackets at that line; quote values that contain ": " or " #"';
    case 'MULTIPLE_DOCS':
      return 'keep one YAML document per manifest (remove the extra ---)';
    default:
      return 'fix the YAML at that line (quote values containing special characters)';
  }
}

/** Reads and parses the manifest at `file`. A missing file is bad input (exit 2). */
export async function loadManifest(file: string): Promise<LoadedManifest> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new BadInputError(
        `manifest not found: ${file}`,
        'write one with `cloudphone-split init --from <url>`, or pass -m <file>',
        { cause: err },
      );
    }
    throw new BadInputError(
      `cannot read the manifest ${file}: ${(err as Error).message}`,
      'check the path given with -m',
      { cause: err },
    );
  }
  const manifest = parseManifest(text, file);
  return { manifest, text, file, baseDir: path.dirname(path.resolve(file)) };
}

/**
 * Reads the manifest at `file` and, when it has problems, returns them with the manifest
 * as far as it could be read instead of throwing (null: the YAML itself is unreadable).
 */
export async function loadManifestProblems(file: string): Promise<{ loaded: LoadedManifest | null; problems: ManifestError['problems'] }> {
  try {
    return { loaded: await loadManifest(file), problems: [] };
  } catch (err) {
    if (!(err instanceof ManifestError)) throw err;
    const text = await readFile(file, 'utf8');
    const { manifest } = readManifest(text, file);
    return { loaded: manifest ? { manifest, text, file, baseDir: path.dirname(path.resolve(file)) } : null, problems: err.problems };
  }
}
