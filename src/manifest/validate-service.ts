import { compileNamePattern } from './glob.js';
import { IDENTIFIER_RULE, identifierProblem, reservedDatabase, reservedRole, suggestIdentifier } from './identifiers.js';
import { readCopyMethod } from './copy-method.js';
import type { ConfigEntry, DenormalizeSpec, ServiceSpec } from './model.js';
import { parseNameParts } from './names.js';
import { describeValue, joinPath, type ProblemList } from './problem-list.js';
import { Section } from './section.js';

const SERVICE_KEYS = ['database', 'server', 'role', 'tables', 'copies', 'objects', 'denormalize', 'config', 'health', 'restart', 'copy'] as const;
const ROLE_KEYS = ['name', 'password', 'existing'] as const;
const DENORMALIZE_KEYS = ['table', 'column', 'from', 'on'] as const;
const CONFIG_KEYS = ['file', 'key', 'value', 'replace', 'with', 'outside'] as const;

/** Reports a table entry that is not a valid name (or a glob where none is allowed). */
export function tableEntryChecker(problems: ProblemList, allowGlob: boolean): (item: string, path: string) => void {
  return (item: string, path: string): void => {
    const p = compileNamePattern(item);
    if ('error' in p) {
      problems.add(
        path,
        `${JSON.stringify(item)}: ${p.error}`,
        'write name, schema.name or a glob like "user_*"; quote a name with dots or quotes in it: \'"a.b"\'',
      );
    } else if (p.isGlob && !allowGlob) {
      problems.add(
        path,
        `${JSON.stringify(item)} is a glob; this entry names one table`,
        'write the exact table name (quote it if it holds glob characters: \'"a*b"\')',
      );
    }
  };
}

function checkIdentifier(problems: ProblemList, path: string, value: string | undefined, what: string): string {
  if (value === undefined) return '';
  const reason = identifierProblem(value, what);
  if (reason) problems.add(path, `${reason}: a ${what} must be ${IDENTIFIER_RULE}`, `write ${suggestIdentifier(value)}`);
  return value;
}

function readRole(sec: Section, service: string): ServiceSpec['role'] {
  const raw = sec.get('role');
  if (raw === undefined || raw === null) return null;
  const example = `role: { name: ${suggestIdentifier(service)}_svc, password: \${DB_PASSWORD} }`;
  const role = Section.open(raw, sec.at('role'), sec.problems, ROLE_KEYS, example);
  if (!role) return null;
  const name = checkIdentifier(sec.problems, role.at('name'), role.required('name', example), 'role name');
  if (reservedRole(name)) {
    sec.problems.add(
      role.at('name'),
      `role name ${JSON.stringify(name)} is reserved by PostgreSQL`,
      `write ${suggestIdentifier(service)}_svc`,
    );
  }
  // The password is never echoed, not even when YAML read it as a number.
  const pw = role.get('password');
  let password: string | null = null;
  if (typeof pw === 'string' && pw !== '') password = pw;
  else if (pw === '') {
    sec.problems.add(
      role.at('password'),
      'is empty',
      'remove `password` for a role without one, or write password: ${DB_PASSWORD}',
    );
  } else if (pw !== undefined && pw !== null) {
    sec.problems.add(
      role.at('password'),
      `must be a string, not ${Array.isArray(pw) ? 'a list' : pw instanceof Map ? 'a mapping' : 'a number or boolean'}`,
      'quote it, or better, write password: ${DB_PASSWORD} and set DB_PASSWORD in the environment',
    );
  }
  const existing = role.get('existing');
  if (existing !== undefined && existing !== null && typeof existing !== 'boolean') {
    sec.problems.add(
      role.at('existing'),
      `must be true or false, not ${describeValue(existing)}`,
      'write existing: true to use a role the split did not create (its password is then never changed)',
    );
  }
  return existing === true ? { name, password, existing: true } : { name, password };
}

function readOn(d: Section): string[] {
  const v = d.get('on');
  if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) return [];
  if (typeof v === 'string' && v.trim() !== '') return [v];
  if (Array.isArray(v) && v.length > 0 && v.every((c) => typeof c === 'string' && c.trim() !== '')) return v as string[];
  d.problems.add(
    d.at('on'),
    `must be a column name or a list of them, not ${describeValue(v)}`,
    'write on: user_id, or on: [tenant_id, user_id]',
  );
  return [];
}

function readDenormalize(sec: Section): DenormalizeSpec[] {
  const raw = sec.get('denormalize');
  if (raw === undefined || raw === null) return [];
  const example = 'denormalize: [{ table: devices, column: user_name, from: users.username }]';
  if (!Array.isArray(raw)) {
    sec.problems.add(sec.at('denormalize'), `must be a list, not ${describeValue(raw)}`, `write ${example}`);
    return [];
  }
  const out: DenormalizeSpec[] = [];
  raw.forEach((item: unknown, i) => {
    const d = Section.open(
      item,
      joinPath(sec.at('denormalize'), i),
      sec.problems,
      DENORMALIZE_KEYS,
      '{ table: devices, column: user_name, from: users.username }',
    );
    if (!d) return;
    const table = d.required('table', 'table: devices');
    if (table !== undefined) tableEntryChecker(sec.problems, false)(table, d.at('table'));
    const column = d.required('column', 'column: user_name');
    if (column !== undefined && Buffer.byteLength(column) > 63) {
      sec.problems.add(
        d.at('column'),
        `column name ${JSON.stringify(column)} is longer than 63 bytes`,
        `write ${suggestIdentifier(column)}`,
      );
    }
    const from = d.required('from', 'from: users.username');
    if (from !== undefined) {
      const parts = parseNameParts(from);
      let bad: string | null = null;
      if ('error' in parts) bad = parts.error;
      else if (parts.length < 2 || parts.length > 3) bad = `names ${parts.length} part${parts.length === 1 ? '' : 's'}`;
      if (bad) {
        sec.problems.add(
          d.at('from'),
          `${JSON.stringify(from)}: ${bad}`,
          'write table.column or schema.table.column, like from: users.username',
        );
      }
    }
    out.push({ table: table ?? '', column: column ?? '', from: from ?? '', on: readOn(d) });
  });
  return out;
}

function readConfig(sec: Section): ConfigEntry[] {
  const raw = sec.get('config');
  if (raw === undefined || raw === null) return [];
  const example = '{ file: services/user-service/.env, key: DB_DATABASE }';
  if (!Array.isArray(raw)) {
    sec.problems.add(sec.at('config'), `must be a list, not ${describeValue(raw)}`, `write config: [${example}]`);
    return [];
  }
  const out: ConfigEntry[] = [];
  raw.forEach((item: unknown, i) => {
    const c = Section.open(item, joinPath(sec.at('config'), i), sec.problems, CONFIG_KEYS, example);
    if (!c) return;
    const file = c.required('file', 'file: services/user-service/.env') ?? '';
    const rawOutside = c.get('outside');
    if (rawOutside !== undefined && rawOutside !== null && typeof rawOutside !== 'boolean') {
      sec.problems.add(c.at('outside'), `must be true or false, not ${describeValue(rawOutside)}`, 'write outside: true to allow a file outside the manifest\'s folder');
    }
    const outside = rawOutside === true ? { outside: true } : {};
    const hasKey = c.has('key');
    const hasReplace = c.has('replace');
    if (hasKey && hasReplace) {
      sec.problems.add(
        c.path,
        'has both `key` and `replace`',
        'use key (and value) for .env, .yaml, .yml and .json files, or replace and with for any other text file: ' +
          'split it into two entries',
      );
      return;
    }
    if (!hasKey && !hasReplace) {
      sec.problems.add(
        c.path,
        'has neither `key` nor `replace`',
        "write key: DB_DATABASE (for .env/.yaml/.json), or replace: \"'cloudphone_core'\" with with: \"'{database}'\"",
      );
      return;
    }
    if (hasKey) {
      if (c.has('with')) {
        sec.problems.add(
          c.at('with'),
          '`with` goes with `replace`, not with `key`',
          'write value: "{database}" (or "{url}") instead',
        );
      }
      const key = c.required('key', 'key: DB_DATABASE') ?? '';
      const value = c.optional('value', 'value: "{database}"') ?? '{database}';
      out.push({ file, key, value, ...outside });
    } else {
      if (c.has('value')) {
        sec.problems.add(c.at('value'), '`value` goes with `key`, not with `replace`', 'write with: "\'{database}\'" instead');
      }
      const replace = c.required('replace', "replace: \"'cloudphone_core'\"") ?? '';
      const w = c.get('with');
      if (typeof w !== 'string') {
        const fix = "write with: \"'{database}'\" (the text that replaces each match)";
        sec.problems.add(
          c.at('with'),
          w === undefined || w === null ? '`with` is missing' : `must be a string, not ${describeValue(w)}`,
          fix,
        );
      }
      out.push({ file, replace, with: typeof w === 'string' ? w : '', ...outside });
    }
  });
  return out;
}

/** Reads one service; returns null when it is not a mapping at all. */
export function readService(raw: unknown, name: string, problems: ProblemList): ServiceSpec | null {
  const path = joinPath('services', name);
  const example = `{ database: ${suggestIdentifier(`cloudphone_${name.replace(/-service$/, '')}`)}, tables: [...] }`;
  const sec = Section.open(raw, path, problems, SERVICE_KEYS, `${name}: ${example}`);
  if (!sec) return null;
  const database = checkIdentifier(
    problems,
    sec.at('database'),
    sec.required('database', `database: ${suggestIdentifier(name)}`),
    'database name',
  );
  if (reservedDatabase(database)) {
    problems.add(
      sec.at('database'),
      `database ${JSON.stringify(database)} belongs to the PostgreSQL cluster itself`,
      `write ${suggestIdentifier(name)}`,
    );
  }
  const copy = readCopyMethod(sec);
  return {
    name,
    database,
    server: sec.optional('server', 'server: source') ?? 'source',
    role: readRole(sec, name),
    tables: sec.list('tables', 'tables: [users, "user_*"]', tableEntryChecker(problems, true)),
    copies: sec.list('copies', 'copies: [users]', tableEntryChecker(problems, true)),
    objects: sec.list('objects', 'objects: [find_user_by_id, "report_*"]', tableEntryChecker(problems, true)),
    denormalize: readDenormalize(sec),
    config: readConfig(sec),
    health: sec.optional('health', 'health: http://localhost:30001/health') ?? null,
    restart: sec.optional('restart', 'restart: pm2 restart user-service') ?? null,
    ...(copy ? { copy } : {}),
  };
}
