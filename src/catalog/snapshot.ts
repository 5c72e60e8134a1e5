import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Catalog } from './model.js';
import { BadInputError } from '../errors.js';

const HINT = 'write it again with `cloudphone-split snapshot -o <file>`';

/** Writes the catalog as indented JSON, atomically (temporary file, then rename). */
export async function writeSnapshot(file: string, catalog: Catalog): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(catalog, null, 2)}\n`, 'utf8');
  await rename(tmp, file);
}

const ARRAYS = ['schemas', 'tables', 'views', 'sequences', 'types', 'functions', 'extensions'] as const;
const STRINGS = ['serverVersion', 'database', 'encoding', 'collate', 'ctype', 'localeProvider'] as const;
const TABLE_ARRAYS = ['columns', 'constraints', 'indexes', 'triggers', 'policies'] as const;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every structural problem of a parsed snapshot, as `path: what is wrong`. */
function problems(data: unknown): string[] {
  if (!isObject(data)) return ['the file does not hold a JSON object'];
  if (data.formatVersion !== 1) {
    return [`formatVersion is ${JSON.stringify(data.formatVersion)}, this version of cloudphone-split reads 1`];
  }
  const out: string[] = [];
  if (typeof data.serverVersionNum !== 'number') out.push('serverVersionNum: expected a number');
  for (const k of STRINGS) if (typeof data[k] !== 'string') out.push(`${k}: expected a string`);
  for (const k of ARRAYS) if (!Array.isArray(data[k])) out.push(`${k}: expected an array`);
  if (Array.isArray(data.tables)) {
    data.tables.forEach((t: unknown, i: number) => {
      const at = `tables[${i}]`;
      if (!isObject(t)) return void out.push(`${at}: expected an object`);
      if (typeof t.schema !== 'string' || typeof t.name !== 'string') out.push(`${at}: schema and name must be strings`);
      for (const k of TABLE_ARRAYS) if (!Array.isArray(t[k])) out.push(`${at}.${k}: expected an array`);
      if (!isObject(t.dependsOn)) out.push(`${at}.dependsOn: expected an object`);
    });
  }
  return out;
}

/**
 * Reads a snapshot written by `writeSnapshot`. Throws BadInputError naming the
 * file and every problem when it is missing, not JSON, of another format
 * version, or not shaped like a catalog.
 */
export function readSnapshot(file: string): Catalog {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new BadInputError(`cannot read schema snapshot ${file}: ${(err as Error).message}`, HINT, { cause: err });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new BadInputError(`schema snapshot ${file} is not valid JSON: ${(err as Error).message}`, HINT, { cause: err });
  }
  const found = problems(data);
  if (found.length > 0) {
    throw new BadInputError(`schema snapshot ${file} is not a cloudphone-split catalog:\n  ${found.join('\n  ')}`, HINT);
  }
  return data as Catalog;
}
