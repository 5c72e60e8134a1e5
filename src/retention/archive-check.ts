import { dirname, join } from 'node:path';
import type { PgDumpBinary } from './pg-dump.js';

/**
 * Reads the archive's table of contents with the `pg_restore` next to the `pg_dump`
 * that wrote it and returns the expected tables (`schema.name`) that have no
 * `TABLE DATA` entry in it: an empty list means the archive holds every one.
 */
export async function missingFromArchive(bin: PgDumpBinary, file: string, expected: ReadonlyArray<{ schema: string; name: string }>): Promise<string[]> {
  const restore = join(dirname(bin.path), 'pg_restore');
  const { $ } = await import('zx/core');
  const r = await $({ nothrow: true, quiet: true, verbose: false })`${restore} --list ${file}`;
  if (r.exitCode !== 0) throw new Error(`pg_restore --list could not read the archive (exit ${r.exitCode ?? r.signal}): ${r.stderr.trim().split('\n').slice(-2).join(' ')}`);
  const lines = r.stdout.split('\n').filter((l) => !l.startsWith(';'));
  return expected
    .filter((t) => !lines.some((l) => l.includes(` TABLE DATA ${t.schema} ${t.name} `)))
    .map((t) => `${t.schema}.${t.name}`);
}
