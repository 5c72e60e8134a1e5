import { BadInputError } from '../errors.js';
import type { ConnectionSettings, Manifest, ManifestProblem } from './model.js';
import { joinPath } from './problem-list.js';
import { connectionSecrets } from '../secrets/connection-secrets.js';

/** A `${VAR}` template split into literal text and variable references. */
export type TemplatePart = { text: string } | { variable: string; fallback: string | null };

/** Where a template syntax error is and what to write instead. */
export interface TemplateError {
  error: string;
  fix: string;
}

const REFERENCE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([^]*))?$/;
const SHELL_OPERATOR = /^[A-Za-z_][A-Za-z0-9_]*(?::?[-=?+]|#|%|\/)/;
const PRINTABLE_NAME = /^[\w.-]{1,64}$/;

/**
 * Parses `${VAR}` and `${VAR:-default}` references. Only `${` is special (`$` and
 * `$$` are literal); a default runs to the first `}`. Errors never quote more of
 * the value than a name-like reference, since the value may hold a password.
 */
export function parseTemplate(value: string): TemplatePart[] | TemplateError {
  const parts: TemplatePart[] = [];
  let i = 0;
  while (i < value.length) {
    const start = value.indexOf('${', i);
    if (start === -1) {
      parts.push({ text: value.slice(i) });
      break;
    }
    if (start > i) parts.push({ text: value.slice(i, start) });
    const end = value.indexOf('}', start + 2);
    if (end === -1) {
      return {
        error: '`${` is not closed by `}`',
        fix: 'write ${VAR} or ${VAR:-default} (there is no escape for a literal `${`)',
      };
    }
    const inner = value.slice(start + 2, end);
    const m = REFERENCE.exec(inner);
    if (!m) {
      const shown = PRINTABLE_NAME.test(inner) ? ` \`\${${inner}}\`` : '';
      if (SHELL_OPERATOR.test(inner)) {
        return { error: `unsupported variable syntax${shown}`, fix: 'only ${VAR} and ${VAR:-default} are expanded' };
      }
      return {
        error: `bad variable name${shown}`,
        fix: 'a variable name is letters, digits and _, not starting with a digit: ${MY_VAR}',
      };
    }
    parts.push({ variable: m[1]!, fallback: m[2] ?? null });
    i = end + 1;
  }
  return parts;
}

function isError(p: TemplatePart[] | TemplateError): p is TemplateError {
  return !Array.isArray(p);
}

function lookup(env: NodeJS.ProcessEnv, name: string, fallback: string | null): string | undefined {
  const v = env[name];
  // As in the shell, `:-` also replaces a set but empty value.
  if (fallback !== null && (v === undefined || v === '')) return fallback;
  return v;
}

/**
 * Expands `${VAR}` and `${VAR:-default}` from `env`. Throws BadInputError naming
 * `where` (a key path) and the variable, never the value, when a variable is unset
 * and has no default or the syntax is wrong.
 */
export function expand(value: string, env: NodeJS.ProcessEnv, where?: string): string {
  const parts = parseTemplate(value);
  const at = where ? `${where}: ` : '';
  if (isError(parts)) throw new BadInputError(`${at}${parts.error}`, parts.fix);
  let out = '';
  for (const p of parts) {
    if ('text' in p) {
      out += p.text;
      continue;
    }
    const v = lookup(env, p.variable, p.fallback);
    if (v === undefined) {
      throw new BadInputError(`${at}variable ${p.variable} is not set`, missingFix(p.variable));
    }
    out += v;
  }
  return out;
}

/** Like expand, but undefined when something is missing or malformed. */
function tryExpand(value: string, env: NodeJS.ProcessEnv): string | undefined {
  try {
    return expand(value, env);
  } catch {
    return undefined;
  }
}

function missingFix(name: string, kind: ExpandableField['kind'] = 'text'): string {
  // Passwords and connection strings have no defaults: they would be stored as text.
  if (kind !== 'text') return `set ${name} in the environment`;
  return `set ${name} in the environment or write \${${name}:-default}`;
}

/** A manifest value in which `${VAR}` is expanded. */
export interface ExpandableField {
  path: string;
  value: string;
  /** url: a connection URL (its password is secret); password: secret as a whole. */
  kind: 'url' | 'password' | 'text';
}

/**
 * Every value in which `${VAR}` is expanded: connection URLs, TLS file paths, role
 * passwords, the archive folder and health URLs. Names (databases, roles, tables) are
 * never expanded; config entries are written into the service's files as they are (a
 * `${VAR}` there is for the service's own interpolation, and the tool never writes a
 * secret into a file: rollback could not put the old one back, the journal never holds
 * one); `restart` commands are left to the shell that runs them.
 */
export function expandableFields(m: Manifest): ExpandableField[] {
  const out: ExpandableField[] = [{ path: 'source.url', value: m.source.url, kind: 'url' }];
  const certificates = (base: string, settings: ConnectionSettings | undefined) => {
    for (const key of ['sslrootcert', 'sslcert', 'sslkey'] as const) {
      const v = settings?.[key];
      if (v !== undefined) out.push({ path: `${base}.${key}`, value: v, kind: 'text' });
    }
  };
  certificates('source', m.source.settings);
  if (m.control) {
    out.push({ path: 'control.url', value: m.control.url, kind: 'url' });
    certificates('control', m.control.settings);
  }
  for (const [name, url] of Object.entries(m.servers)) {
    out.push({ path: joinPath('servers', name), value: url, kind: 'url' });
    certificates(joinPath('servers', name), m.serverSettings?.[name]);
  }
  if (m.retention.archive !== null) out.push({ path: 'retention.archive', value: m.retention.archive, kind: 'text' });
  for (const s of m.services) {
    const base = joinPath('services', s.name);
    if (s.role?.password != null) out.push({ path: `${base}.role.password`, value: s.role.password, kind: 'password' });
    if (s.health !== null) out.push({ path: `${base}.health`, value: s.health, kind: 'text' });
  }
  return out;
}

/**
 * Every referenced variable that is unset and has no default, one problem per
 * reference (key path, variable name), plus any `${` syntax error.
 */
export function missingVariables(m: Manifest, env: NodeJS.ProcessEnv, file: string): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  for (const f of expandableFields(m)) {
    const parts = parseTemplate(f.value);
    if (isError(parts)) {
      problems.push({ file, path: f.path, message: parts.error, fix: parts.fix });
      continue;
    }
    let unset = false;
    for (const p of parts) {
      if ('variable' in p && lookup(env, p.variable, p.fallback) === undefined) {
        unset = true;
        problems.push({ file, path: f.path, message: `variable ${p.variable} is not set`, fix: missingFix(p.variable, f.kind) });
      }
    }
    // PostgreSQL takes an empty password as none: the role would be made unable to log in.
    if (f.kind === 'password' && !unset && expand(f.value, env) === '') {
      const names = parts.flatMap((p) => ('variable' in p ? [p.variable] : []));
      problems.push({
        file,
        path: f.path,
        message: `variable ${names.join(', ') || '(none)'} is set but empty: an empty password is no password, and the role could not log in`,
        fix: `set ${names[0] ?? 'it'} to the role's password`,
      });
    }
  }
  return problems;
}

const URL_USERINFO = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)@/i;

function urlPasswords(template: string, expanded: string, env: NodeJS.ProcessEnv): string[] {
  // Every accepted form: URL userinfo, ?password=, key=value; parsed and as written.
  const out: string[] = connectionSecrets(expanded);
  // Variables written in the password part of the URL: their values are secret
  // even when they contain characters that make the expanded URL unparsable.
  const info = URL_USERINFO.exec(template)?.[1];
  const colon = info?.indexOf(':') ?? -1;
  if (info && colon !== -1) {
    const parts = parseTemplate(info.slice(colon + 1));
    if (!isError(parts)) {
      for (const p of parts) if ('variable' in p) out.push(lookup(env, p.variable, p.fallback) ?? '');
    }
  }
  return out;
}

/**
 * The expanded secrets of a manifest (passwords in connection URLs, role
 * passwords), longest first, for scrubbing output. Values that cannot be expanded
 * are skipped. The manifest itself is never modified.
 */
export function secretsOf(m: Manifest, env: NodeJS.ProcessEnv): string[] {
  const found = new Set<string>();
  for (const f of expandableFields(m)) {
    if (f.kind === 'text') continue;
    const v = tryExpand(f.value, env);
    if (v === undefined) continue;
    if (f.kind === 'password') found.add(v);
    else for (const p of urlPasswords(f.value, v, env)) found.add(p);
  }
  found.delete('');
  return [...found].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
}
