import type { QualifiedName } from './model.js';
import { tableKey } from './model.js';

/**
 * What a function body names that pg_depend does not record. Bodies are text to the
 * server (plpgsql, and sql with check_function_bodies off), so this reads them as
 * text: string literals that name a sequence (`nextval('orders_id_seq')`), the
 * tables after INSERT INTO, UPDATE, DELETE FROM, MERGE INTO and TRUNCATE, and the
 * tables after FROM, JOIN and USING or whose types a declaration takes (`t%ROWTYPE`,
 * `t.col%TYPE`). Dynamic SQL built at run time (EXECUTE format(...)) cannot be seen.
 */
export interface BodyReferences {
  /** Keys of sequences named in string literals. */
  sequences: string[];
  /** Keys of tables written to. */
  writes: string[];
  /** Keys of tables read (FROM, JOIN, USING) and not written to. */
  reads: string[];
  /** It runs SQL built at run time (plpgsql `EXECUTE …`): what that SQL names cannot be read here. */
  dynamic: boolean;
  /**
   * Tables it writes to, named with a schema outside the catalog's (`outbox.messages` when
   * `source.schemas` is `[public]`): `schema.name` as written (unquoted parts folded).
   */
  outside: string[];
}

/** Schemas a body may name that no split moves anything into: the server's own. */
const SYSTEM_SCHEMAS = new Set(['pg_catalog', 'information_schema', 'pg_temp']);

const IDENT = `(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const NAME = `(${IDENT}(?:\\s*\\.\\s*${IDENT})?)`;
const WRITE = new RegExp(`\\b(?:INSERT\\s+INTO|UPDATE|DELETE\\s+FROM|MERGE\\s+INTO|TRUNCATE(?:\\s+TABLE)?)\\s+(?:ONLY\\s+)?${NAME}`, 'gi');
/** A table read: `FROM t`, `JOIN t`, `USING t` (only names of the catalog's tables count, so `EXTRACT(EPOCH FROM now())` finds none). */
const READ = new RegExp(`\\b(?:FROM|JOIN|USING)\\s+(?:ONLY\\s+)?${NAME}`, 'gi');
/** A table whose row type or column type a plpgsql declaration takes: `t%ROWTYPE`, `t.col%TYPE`. */
const ROWTYPE = new RegExp(`${NAME}\\s*%\\s*ROWTYPE\\b`, 'gi');
const COLTYPE = new RegExp(`${NAME}\\s*\\.\\s*${IDENT}\\s*%\\s*TYPE\\b`, 'gi');
/** A common table expression's name: `WITH [RECURSIVE] x [(cols)] AS [NOT] [MATERIALIZED] (` and `, y AS (`. */
const CTE = new RegExp(`(?:\\bWITH(?:\\s+RECURSIVE)?|,)\\s*(${IDENT})\\s*(?:\\([^()]*\\)\\s*)?AS\\s+(?:NOT\\s+)?(?:MATERIALIZED\\s+)?\\(`, 'gi');

/** Splits `a.b`, `"A"."b.c"` into parts as the server would read them (unquoted parts fold to lower case). */
export function nameParts(text: string): string[] | null {
  const parts: string[] = [];
  let i = 0;
  const s = text.trim();
  while (i < s.length) {
    if (s[i] === '"') {
      let j = i + 1;
      let part = '';
      for (;;) {
        if (j >= s.length) return null;
        if (s[j] === '"') {
          if (s[j + 1] === '"') {
            part += '"';
            j += 2;
            continue;
          }
          break;
        }
        part += s[j];
        j++;
      }
      parts.push(part);
      i = j + 1;
    } else {
      const m = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(s.slice(i));
      if (!m) return null;
      parts.push(m[0].toLowerCase());
      i += m[0].length;
    }
    while (s[i] === ' ') i++;
    if (i >= s.length) break;
    if (s[i] !== '.') return null;
    i++;
    while (s[i] === ' ') i++;
  }
  return parts.length === 1 || parts.length === 2 ? parts : null;
}

/**
 * A body read left to right as the server's lexer would: line comments (`--`) and nested block comments
 * dropped, single-quoted literals (`''` and, in `E'…'`, backslash escapes) set apart,
 * quoted identifiers kept whole. Dollar quotes stay code: inside a body they hold
 * dynamic SQL, whose names count. One pass, so an apostrophe in a comment (`-- it's`)
 * does not pair with the next literal's quote and hide the code between.
 */
function scanBody(body: string): { code: string; literals: string[] } {
  let code = '';
  const literals: string[] = [];
  let i = 0;
  const n = body.length;
  while (i < n) {
    const c = body[i]!;
    if (c === '-' && body[i + 1] === '-') {
      const end = body.indexOf('\n', i);
      i = end < 0 ? n : end;
      code += ' ';
    } else if (c === '/' && body[i + 1] === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (body[i] === '/' && body[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (body[i] === '*' && body[i + 1] === '/') {
          depth--;
          i += 2;
        } else i++;
      }
      code += ' ';
    } else if (c === '"') {
      const end = body.indexOf('"', i + 1);
      // A doubled "" inside a quoted identifier ends and reopens it: copying both halves keeps it whole.
      const stop = end < 0 ? n : end + 1;
      code += body.slice(i, stop);
      i = stop;
    } else if (c === "'") {
      const escapes = /[eE]/.test(body[i - 1] ?? '') && !/[A-Za-z0-9_$]/.test(body[i - 2] ?? '');
      let text = '';
      i++;
      while (i < n) {
        const d = body[i]!;
        if (escapes && d === '\\' && i + 1 < n) {
          text += body[i + 1];
          i += 2;
        } else if (d === "'" && body[i + 1] === "'") {
          text += "'";
          i += 2;
        } else if (d === "'") {
          i++;
          break;
        } else {
          text += d;
          i++;
        }
      }
      literals.push(text);
      code += "''";
    } else {
      code += c;
      i++;
    }
  }
  return { code, literals };
}

/** The contents of the single-quoted literals of a body (`''` unescaped), outside its comments. */
export function stringLiterals(body: string): string[] {
  return scanBody(body).literals;
}

/** A body without its string literals and comments: no statement, call or type is named there. */
export function codeOnly(body: string): string {
  return scanBody(body).code;
}

/** The keys `schema.name` a name's parts may mean: itself when qualified, else the name in each schema of `searchPath`, in order. */
export function candidateKeys(parts: string[], searchPath: string[]): string[] {
  return parts.length === 2 ? [`${parts[0]}.${parts[1]}`] : searchPath.map((s) => `${s}.${parts[0]}`);
}

/** The first of `text`'s candidate keys that `among` holds (as the server resolves a name), or null. */
function resolve(text: string, searchPath: string[], among: ReadonlySet<string>): string | null {
  const parts = nameParts(text);
  return parts ? (candidateKeys(parts, searchPath).find((k) => among.has(k)) ?? null) : null;
}

/**
 * Resolves the names a body uses against the objects of the catalog: a qualified
 * name exactly, an unqualified one through `searchPath` (the function's own SET
 * search_path, else its schema then public), first match winning.
 */
export function bodyReferences(
  body: string,
  searchPath: string[],
  sequences: QualifiedName[],
  tables: QualifiedName[],
  schemas: readonly string[] = [],
): BodyReferences {
  const seqKeys = new Set(sequences.map(tableKey));
  const tableKeys = new Set(tables.map(tableKey));
  const known = new Set([...schemas, ...tables.map((t) => t.schema)]);
  const found = { sequences: new Set<string>(), writes: new Set<string>(), reads: new Set<string>(), outside: new Set<string>() };
  for (const lit of stringLiterals(body)) {
    const k = resolve(lit, searchPath, seqKeys);
    if (k) found.sequences.add(k);
  }
  // Literals and comments hold no statements: blank them before looking for writes.
  const code = codeOnly(body);
  for (const m of code.matchAll(WRITE)) {
    const k = resolve(m[1]!, searchPath, tableKeys);
    if (k) found.writes.add(k);
    const parts = nameParts(m[1]!);
    if (!k && parts?.length === 2 && known.size > 0 && !known.has(parts[0]!) && !SYSTEM_SCHEMAS.has(parts[0]!)) found.outside.add(`${parts[0]}.${parts[1]}`);
  }
  // A name a statement gives its own common table expression is not a table there (`WITH orders AS (…) SELECT … FROM orders`).
  const reads = code.split(';').flatMap((statement) => {
    const ctes = new Set([...statement.matchAll(CTE)].map((m) => nameParts(m[1]!)?.[0]));
    return [...statement.matchAll(READ)].filter((m) => {
      const parts = nameParts(m[1]!);
      return !(parts?.length === 1 && ctes.has(parts[0]));
    });
  });
  for (const m of [...reads, ...code.matchAll(ROWTYPE), ...code.matchAll(COLTYPE)]) {
    const k = resolve(m[1]!, searchPath, tableKeys);
    if (k && !found.writes.has(k)) found.reads.add(k);
  }
  return {
    sequences: [...found.sequences].sort(),
    writes: [...found.writes].sort(),
    reads: [...found.reads].sort(),
    outside: [...found.outside].sort(),
    dynamic: /\bEXECUTE\b(?!\s+(?:FUNCTION|PROCEDURE)\b)/i.test(code),
  };
}

/** Where an unqualified name in a body is looked up: the function's SET search_path, else its own schema, then public. */
export function bodySearchPath(ownSchema: string, configured: string[] | null): string[] {
  if (configured) return configured.filter((s) => s !== '$user' && s !== '');
  return [...new Set([ownSchema, 'public'])];
}

/** A type named after `::` (a cast), or as a plpgsql variable's type (`name type;`, `name type := …`). */
const CAST_TYPE = new RegExp(`::\\s*${NAME}`, 'g');
const DECLARED_TYPE = new RegExp(`(?:^|;|\\bDECLARE\\b)\\s*${IDENT}\\s+(?:CONSTANT\\s+)?${NAME}\\s*(?:\\[\\s*\\]\\s*)?(?:;|:=|=|\\bDEFAULT\\b|\\bNOT\\b|\\bCOLLATE\\b)`, 'gim');

/**
 * The source's types a body names in a cast (`::public.app_role`) or a plpgsql
 * declaration (`user_role public.app_role;`): pg_depend records neither, and the
 * function fails in a database without them. Resolved like `bodyReferences`.
 */
export function bodyTypes(body: string, searchPath: string[], types: QualifiedName[]): string[] {
  const keys = new Set(types.map(tableKey));
  const code = codeOnly(body);
  const found = new Set<string>();
  for (const m of [...code.matchAll(CAST_TYPE), ...code.matchAll(DECLARED_TYPE)]) {
    const k = resolve(m[1]!, searchPath, keys);
    if (k) found.add(k);
  }
  return [...found].sort();
}
