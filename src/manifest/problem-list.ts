import type { ManifestProblem } from './model.js';

/**
 * Collects manifest problems for one file, in the order they are found, so that
 * every problem is reported at once. Paths are key paths such as
 * `services.user-service.tables[2]`; the empty path means the whole document.
 */
export class ProblemList {
  readonly items: ManifestProblem[] = [];
  constructor(readonly file: string) {}

  add(path: string, message: string, fix: string): void {
    this.items.push({ file: this.file, path: path === '' ? '(top level)' : path, message, fix });
  }

  get size(): number {
    return this.items.length;
  }
}

/** `a` + `b` → `a.b`; `a` + 2 → `a[2]`. */
export function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base === '' ? key : `${base}.${key}`;
}

/** "a string", "a list", "a map", "a number"...: how a wrong value is described. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'empty';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Map) return 'a mapping';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'boolean') return `the boolean ${value}`;
  if (value instanceof Date) return 'a date';
  return `a ${typeof value}`;
}
