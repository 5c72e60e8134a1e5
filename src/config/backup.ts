import { diffLines, splitLines } from './line-diff.js';
import { maskLine, unmaskLines } from './mask.js';

/**
 * What the journal keeps to undo one repointed file: a reverse patch, not the file.
 * Each hunk says which lines of the repointed file to take out and the original
 * lines to put back, with every secret masked (the journal never holds a password);
 * the secrets are taken back from the lines being replaced, which kept them.
 * Invariant: applying `hunks` to content hashing to `afterHash` gives content
 * hashing to `beforeHash`, or the restore is refused.
 */
export type ConfigBackup = {
  /** As written in the manifest: relative to the manifest's folder. */
  file: string;
  beforeHash: string;
  afterHash: string;
  /** Null when the original is unknown (the file was already repointed before this run started). */
  hunks: ReverseHunk[] | null;
};

export type ReverseHunk = {
  /** Index (0-based) of the first line to replace in the repointed file. */
  at: number;
  /** How many lines of the repointed file to replace. */
  remove: number;
  /** The original lines, with their line terminators, secrets masked. */
  lines: string[];
};

/** The reverse patch that turns `after` back into `before`. */
export function reversePatch(before: string, after: string): ReverseHunk[] {
  const hunks: ReverseHunk[] = [];
  let at = 0;
  let open: ReverseHunk | null = null;
  for (const op of diffLines(splitLines(before), splitLines(after))) {
    if (op.op === 'keep') {
      open = null;
      at++;
      continue;
    }
    if (!open) {
      open = { at, remove: 0, lines: [] };
      hunks.push(open);
    }
    if (op.op === 'add') {
      open.remove++;
      at++;
    } else {
      open.lines.push(maskLine(op.line));
    }
  }
  return hunks;
}

/** `after` with the reverse patch applied, or null when the secrets cannot be put back. */
export function applyReversePatch(after: string, hunks: ReverseHunk[]): string | null {
  const lines = splitLines(after);
  for (const h of [...hunks].sort((a, b) => b.at - a.at)) {
    if (h.at + h.remove > lines.length) return null;
    const original = unmaskLines(h.lines, lines.slice(h.at, h.at + h.remove));
    if (!original) return null;
    lines.splice(h.at, h.remove, ...original);
  }
  return lines.join('');
}

/** Narrows journal JSON to a ConfigBackup (the journal stores `unknown`). */
export function isConfigBackup(value: unknown): value is ConfigBackup {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const hunkOk = (h: unknown): boolean => {
    if (typeof h !== 'object' || h === null) return false;
    const r = h as Record<string, unknown>;
    return typeof r.at === 'number' && typeof r.remove === 'number' && Array.isArray(r.lines) && r.lines.every((l) => typeof l === 'string');
  };
  return (
    typeof v.file === 'string' &&
    typeof v.beforeHash === 'string' &&
    typeof v.afterHash === 'string' &&
    (v.hunks === null || (Array.isArray(v.hunks) && v.hunks.every(hunkOk)))
  );
}
