import { closest } from './closest.js';
import { describeValue, joinPath, type ProblemList } from './problem-list.js';

/** A YAML mapping as parsed with `mapAsMap`: keys in document order, of any scalar type. */
export type RawMap = Map<unknown, unknown>;

export function isRawMap(value: unknown): value is RawMap {
  return value instanceof Map;
}

/**
 * One mapping of the manifest being validated, at a key path. Opening it reports
 * unknown keys (with the closest known key); each accessor reports a missing or
 * mistyped value and returns undefined/null/[] for it, so validation goes on and
 * every problem is collected.
 */
export class Section {
  private constructor(
    readonly map: RawMap,
    readonly path: string,
    readonly problems: ProblemList,
  ) {}

  /** Null (after reporting) when `value` is not a mapping. */
  static open(value: unknown, path: string, problems: ProblemList, known: readonly string[], example: string): Section | null {
    if (!isRawMap(value)) {
      problems.add(path, `must be a mapping, not ${describeValue(value)}`, `write ${example}`);
      return null;
    }
    for (const key of value.keys()) {
      const k = String(key);
      if (known.includes(k)) continue;
      const near = closest(k, known);
      problems.add(
        joinPath(path, k),
        `unknown key \`${k}\``,
        near ? `write \`${near}\` instead of \`${k}\`` : `remove it; the keys allowed here are ${known.join(', ')}`,
      );
    }
    return new Section(value, path, problems);
  }

  at(key: string): string {
    return joinPath(this.path, key);
  }

  /** The raw value; undefined when the key is absent. YAML `key:` with no value is null. */
  get(key: string): unknown {
    return this.map.get(key);
  }

  has(key: string): boolean {
    return this.map.has(key) && this.map.get(key) !== null;
  }

  /** A required non-empty string. */
  required(key: string, example: string): string | undefined {
    const v = this.get(key);
    if (v === undefined || v === null) {
      this.problems.add(this.at(key), `\`${key}\` is missing`, `write ${example}`);
      return undefined;
    }
    return this.checkString(key, v, example);
  }

  /** An optional string: null when absent or empty in YAML (`key:` or `key: null`). */
  optional(key: string, example: string): string | null | undefined {
    const v = this.get(key);
    if (v === undefined || v === null) return null;
    return this.checkString(key, v, example);
  }

  /**
   * A list of non-empty strings; [] when absent. Invalid items are reported and
   * left out; `check` sees each valid item with its key path.
   */
  list(key: string, example: string, check?: (item: string, path: string) => void): string[] {
    const v = this.get(key);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      const fix = typeof v === 'string' ? `write it as a list: ${key}: [${v}]` : `write ${example}`;
      this.problems.add(this.at(key), `must be a list, not ${describeValue(v)}`, fix);
      return [];
    }
    const out: string[] = [];
    v.forEach((item: unknown, i) => {
      const path = joinPath(this.at(key), i);
      if (typeof item !== 'string') {
        this.problems.add(path, `must be a string, not ${describeValue(item)}`, stringFix(item, example));
      } else if (item.trim() === '') {
        this.problems.add(path, 'is empty', `remove it, or write ${example}`);
      } else {
        check?.(item, path);
        out.push(item);
      }
    });
    return out;
  }

  private checkString(key: string, v: unknown, example: string): string | undefined {
    if (typeof v !== 'string') {
      this.problems.add(this.at(key), `must be a string, not ${describeValue(v)}`, stringFix(v, example));
      return undefined;
    }
    if (v.trim() === '') {
      this.problems.add(this.at(key), `\`${key}\` is empty`, `write ${example}`);
      return undefined;
    }
    return v;
  }
}

/** Numbers and booleans are usually names YAML read as something else: say to quote them. */
function stringFix(v: unknown, example: string): string {
  if (typeof v === 'number' || typeof v === 'boolean') return `quote it so YAML reads it as text: "${String(v)}"`;
  if (isRawMap(v) && v.size === 1 && [...v.values()][0] === null) {
    // `value: {database}` is a YAML mapping; the placeholder must be quoted.
    return `quote it: "{${String([...v.keys()][0])}}"`;
  }
  return `write ${example}`;
}
