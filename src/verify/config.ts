import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ConfigEntry } from '../manifest/model.js';
import { readEntryValue, sha256 } from '../config/edit.js';
import { maskLine } from '../config/mask.js';
import { POSTGRES_URL, splitPostgresUrl } from '../config/postgres-url.js';
import { stepsOf } from './plan-tables.js';
import { errorText, type Check, type VerifyContext } from './check.js';

function urlDatabases(text: string): string[] {
  return [...text.matchAll(new RegExp(POSTGRES_URL.source, 'gi'))].map((m) => {
    const path = splitPostgresUrl(m[0])?.path ?? '';
    try {
      return decodeURIComponent(path.replace(/^\//, ''));
    } catch {
      return path.replace(/^\//, '');
    }
  });
}

/**
 * Whether an entry of `text` points at `database`: the key's value is the rendered
 * template (for `{url}`: every postgres URL in it names the database); a replace
 * entry's rendered `with` is present and its `replace` text gone. Null: cannot tell.
 */
export function entryResolves(text: string, entry: ConfigEntry, database: string): { ok: boolean; why: string } | null {
  if ('replace' in entry) {
    if (entry.with.includes('{url}')) return null;
    const expected = entry.with.replaceAll('{database}', database);
    if (!text.includes(expected)) return { ok: false, why: `the file does not contain ${JSON.stringify(maskLine(expected))}` };
    if (text.includes(entry.replace) && !expected.includes(entry.replace)) {
      return { ok: false, why: `the file still contains ${JSON.stringify(maskLine(entry.replace))}` };
    }
    return { ok: true, why: `contains ${JSON.stringify(maskLine(expected))}` };
  }
  const value = readEntryValue(text, entry);
  if (value === null) return { ok: false, why: `${entry.key} is not set` };
  if (entry.value.includes('{url}')) {
    const dbs = urlDatabases(value);
    if (dbs.length === 0) return { ok: false, why: `${entry.key} holds no postgres URL` };
    const wrong = dbs.filter((d) => d !== database);
    return wrong.length === 0
      ? { ok: true, why: `${entry.key} points at database ${database}` }
      : { ok: false, why: `${entry.key} points at database ${wrong[0]}` };
  }
  const expected = entry.value.replaceAll('{database}', database);
  return value === expected
    ? { ok: true, why: `${entry.key} is ${JSON.stringify(maskLine(value))}` }
    : { ok: false, why: `${entry.key} is ${JSON.stringify(maskLine(value))}, expected ${JSON.stringify(maskLine(expected))}` };
}

/**
 * Each configured entry now resolves to the new database: the file holds exactly what
 * `repoint_config` wrote (its last planned hash), or, when it changed since, the entry
 * still points at the service's database.
 */
export async function configChecks(ctx: VerifyContext): Promise<Check[]> {
  const steps = stepsOf(ctx.plan, 'repoint_config');
  const edits = steps.flatMap((step) => step.edits.map((edit) => ({ step, edit })));
  if (edits.length === 0) return [{ kind: 'config', ok: true, detail: 'not applicable: no config entries' }];
  const finalHash = new Map<string, string | null>();
  for (const { edit } of edits) finalHash.set(resolve(ctx.baseDir, edit.file), edit.afterHash);
  const texts = new Map<string, Promise<string>>();
  const read = (path: string) => {
    let p = texts.get(path);
    if (!p) {
      p = readFile(path, 'utf8');
      texts.set(path, p);
    }
    return p;
  };
  return Promise.all(
    edits.map(async ({ step, edit }): Promise<Check> => {
      const database = step.target.database;
      const base = { kind: 'config' as const, service: step.service ?? step.target.service, target: database };
      const label = `${edit.file} ${edit.entry}`;
      const path = resolve(ctx.baseDir, edit.file);
      let text: string;
      try {
        text = await read(path);
      } catch (err) {
        return { ...base, ok: false, detail: `${label}: cannot read the file: ${errorText(err)}` };
      }
      const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
      if (finalHash.get(path) && sha256(text) === finalHash.get(path)) {
        return { ...base, ok: true, detail: `${label}: holds what apply wrote (points at ${database})` };
      }
      let verdict: ReturnType<typeof entryResolves>;
      try {
        verdict = entryResolves(body, edit.spec, database);
      } catch (err) {
        return { ...base, ok: false, detail: `${label}: cannot read the entry: ${errorText(err)}` };
      }
      if (verdict === null) {
        return { ...base, ok: false, detail: `${label}: the file changed since apply wrote it and the entry cannot be checked; check by hand that it points at ${database}` };
      }
      return verdict.ok
        ? { ...base, ok: true, detail: `${label}: changed since apply, but ${verdict.why}` }
        : { ...base, ok: false, detail: `${label}: does not point at ${database}: ${verdict.why}; rerun \`apply\` or edit the file` };
    }),
  );
}
