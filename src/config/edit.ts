import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, extname, resolve } from 'node:path';
import type { ConfigEntry } from '../manifest/model.js';
import type { ConfigEdit, TargetRef } from '../plan/model.js';
import { serverOf } from '../conn/connection.js';
import { ConfigEditError, ConfigEditErrors } from './config-edit-error.js';
import { editDotenv, readDotenv } from './dotenv.js';
import { editJson, readJson } from './json.js';
import { maskLine } from './mask.js';
import { renderValue } from './template.js';
import { editText } from './text.js';
import { unifiedDiff } from './unified-diff.js';
import { editYaml, readYaml } from './yaml.js';

/** Where a service's config must point: its new database and the server holding it. */
export interface ConfigTarget {
  database: string;
  /** The target server's URL (expanded); only its host and port are ever written. Needed by `{url}` when the server differs. */
  serverUrl?: string | null;
  /** True when the target server is the source's: URLs keep their host and port. */
  sameServer: boolean;
}

/** An edit as the plan shows it, with the texts it was computed from (never stored: they may hold secrets). */
export interface PlannedConfigEdit {
  edit: ConfigEdit;
  before: string;
  after: string;
}

export type ConfigFormat = 'dotenv' | 'yaml' | 'json' | 'text';

/** The editor for a file: `.env`, `.env.*`, `*.env` → dotenv; `.yaml`/`.yml`; `.json`; anything else → text. */
export function configFormat(file: string): ConfigFormat {
  const name = basename(file).toLowerCase();
  const ext = extname(name);
  if (name.startsWith('.env') || ext === '.env') return 'dotenv';
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  if (ext === '.json') return 'json';
  return 'text';
}

/**
 * The target of a step's config edits. `serverUrl(name)` gives a server's URL by its
 * manifest name ("source" included). The planner and `repoint_config` both use this,
 * so a plan's hashes are reproduced at run time.
 */
export function configTarget(target: TargetRef, serverUrl: (server: string) => string): ConfigTarget {
  const url = serverUrl(target.server);
  let sameServer = target.server === 'source';
  if (!sameServer) {
    try {
      sameServer = serverOf(url) === serverOf(serverUrl('source'));
    } catch {
      sameServer = false;
    }
  }
  return { database: target.database, serverUrl: url, sameServer };
}

/** How an entry is displayed: `DB_DATABASE=`, `database.url`, `replace "'cloudphone_core'"`. */
export function entryLabel(entry: ConfigEntry): string {
  if ('replace' in entry) return `replace ${JSON.stringify(maskLine(entry.replace))}`;
  return configFormat(entry.file) === 'dotenv' ? `${entry.key}=` : entry.key;
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The current value an entry reads in `text` (null for replace entries or when absent). */
export function readEntryValue(text: string, entry: ConfigEntry): string | null {
  if ('replace' in entry) return null;
  const body = stripBom(text);
  switch (configFormat(entry.file)) {
    case 'dotenv':
      return readDotenv(body, entry.key);
    case 'yaml':
      return readYaml(body, entry.key);
    case 'json':
      return readJson(body, entry.key);
    case 'text':
      return null;
  }
}

/** The file's text after the entry is applied: pure, the same for the same inputs. */
export function applyConfigEntry(text: string, entry: ConfigEntry, target: ConfigTarget): string {
  const bom = text.startsWith('\uFEFF') ? '\uFEFF' : '';
  const body = text.slice(bom.length);
  const ctx = { database: target.database, url: target.serverUrl ?? undefined, sameServer: target.sameServer };
  try {
    if ('replace' in entry) return bom + editText(body, entry.replace, renderValue(entry.with, ctx, entry.replace));
    const format = configFormat(entry.file);
    if (format === 'text') {
      throw new ConfigEditError(
        '`key` works for .env, .yaml/.yml and .json files only',
        `use replace/with for this file, e.g. replace: "'cloudphone_core'" and with: "'{database}'"`,
      );
    }
    const current = readEntryValue(body, entry);
    const value = renderValue(entry.value, ctx, current);
    const edit = format === 'dotenv' ? editDotenv : format === 'yaml' ? editYaml : editJson;
    return bom + edit(body, entry.key, value);
  } catch (err) {
    if (err instanceof ConfigEditError) throw err.at(entry.file, entryLabel(entry));
    throw err;
  }
}

/** Reads a config file as UTF-8 text; a missing or non-UTF-8 file is a ConfigEditError. */
export async function readConfigFile(baseDir: string, entry: ConfigEntry): Promise<{ text: string; hash: string }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(resolve(baseDir, entry.file));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigEditError(
      code === 'ENOENT' ? 'the file does not exist' : `the file cannot be read (${code ?? 'error'})`,
      `config paths are relative to the manifest's folder (${baseDir}); correct \`file\` or create the file`,
      entry.file,
      entryLabel(entry),
      { cause: err },
    );
  }
  const text = bytes.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(bytes)) {
    throw new ConfigEditError('the file is not UTF-8 text', 'convert the file to UTF-8, or edit it by hand', entry.file, entryLabel(entry));
  }
  return { text, hash: sha256(bytes) };
}

/** Plans one entry against the file as it is now. */
export async function planConfigEdit(baseDir: string, entry: ConfigEntry, target: ConfigTarget): Promise<PlannedConfigEdit> {
  const { text } = await readConfigFile(baseDir, entry);
  return planned(entry, text, applyConfigEntry(text, entry, target));
}

/**
 * Plans many entries (all the services' entries, in step order). Entries on the same
 * file are chained: each one's before is the previous one's after, so they apply one
 * after the other; the steps holding them must run in that order (`dependsOn`).
 * Every problem is reported, in one ConfigEditErrors.
 */
export async function planConfigEdits(
  baseDir: string,
  items: Array<{ entry: ConfigEntry; target: ConfigTarget }>,
): Promise<PlannedConfigEdit[]> {
  const current = new Map<string, string | ConfigEditError>();
  const out: PlannedConfigEdit[] = [];
  const errors: ConfigEditError[] = [];
  for (const { entry, target } of items) {
    const key = resolve(baseDir, entry.file);
    if (!current.has(key)) {
      current.set(key, await readConfigFile(baseDir, entry).then((r) => r.text, (e: unknown) => toConfigError(e, entry)));
    }
    const text = current.get(key)!;
    if (text instanceof ConfigEditError) {
      if (!errors.includes(text)) errors.push(text);
      continue;
    }
    try {
      const after = applyConfigEntry(text, entry, target);
      out.push(planned(entry, text, after));
      current.set(key, after);
    } catch (err) {
      errors.push(toConfigError(err, entry));
    }
  }
  if (errors.length > 0) throw new ConfigEditErrors(errors);
  return out;
}

function toConfigError(err: unknown, entry: ConfigEntry): ConfigEditError {
  if (err instanceof ConfigEditError) return err.at(entry.file, entryLabel(entry));
  throw err;
}

function planned(entry: ConfigEntry, before: string, after: string): PlannedConfigEdit {
  return {
    edit: {
      file: entry.file,
      entry: entryLabel(entry),
      beforeHash: sha256(before),
      afterHash: sha256(after),
      diff: unifiedDiff(entry.file, before, after),
      spec: entry,
    },
    before,
    after,
  };
}

function stripBom(text: string): string {
  return text.startsWith('\uFEFF') ? text.slice(1) : text;
}
