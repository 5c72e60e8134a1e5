import { chmod, open, readdir, rename, stat, unlink, mkdir } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { libpqProgramConnection } from '../conn/libpq.js';

/** A pg_dump binary found on this machine, with its major version. */
export interface PgDumpBinary {
  path: string;
  major: number;
  version: string;
}

/** Where pg_dump is looked for: every PATH folder, then each /usr/lib/postgresql/<major>/bin. */
export async function pgDumpCandidates(env: NodeJS.ProcessEnv = process.env, root = '/usr/lib/postgresql'): Promise<string[]> {
  const dirs = (env.PATH ?? '').split(delimiter).filter(Boolean);
  const majors = await readdir(root).catch(() => [] as string[]);
  for (const m of majors.sort((a, b) => Number(b) - Number(a))) dirs.push(join(root, m, 'bin'));
  const out: string[] = [];
  for (const dir of dirs) {
    const path = join(dir, 'pg_dump');
    if (out.includes(path)) continue;
    const info = await stat(path).catch(() => null);
    if (info?.isFile()) out.push(path);
  }
  return out;
}

/** Parses `pg_dump (PostgreSQL) 15.14 (Debian ...)`. */
export function parsePgDumpVersion(text: string): { major: number; version: string } | null {
  const m = /\(PostgreSQL\)\s+((\d+)(?:\.\d+)*)/.exec(text);
  return m ? { major: Number(m[2]), version: m[1]! } : null;
}

async function versionOf(path: string): Promise<PgDumpBinary | null> {
  const { $ } = await import('zx/core');
  const r = await $({ nothrow: true, quiet: true, verbose: false })`${path} --version`;
  const v = r.exitCode === 0 ? parsePgDumpVersion(r.stdout) : null;
  return v ? { path, ...v } : null;
}

/**
 * The pg_dump to archive a database of a server of major `serverMajor`: pg_dump
 * refuses servers newer than itself, so its major must be at least the server's;
 * the closest such major is preferred. Null when this machine has none.
 */
export async function findPgDump(serverMajor: number, env: NodeJS.ProcessEnv = process.env): Promise<{ found: PgDumpBinary | null; seen: PgDumpBinary[] }> {
  const seen: PgDumpBinary[] = [];
  for (const path of await pgDumpCandidates(env)) {
    const b = await versionOf(path);
    if (b) seen.push(b);
  }
  const fit = seen.filter((b) => b.major >= serverMajor).sort((a, b) => a.major - b.major);
  return { found: fit[0] ?? null, seen };
}

/** `<database>-<yyyymmddThhmmssZ>.dump` */
export function archiveFileName(database: string, at: Date): string {
  const stamp = at.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
  return `${database.replace(/[^A-Za-z0-9_.-]/g, '_')}-${stamp}.dump`;
}

/** pg_dump's `-t` pattern matching exactly one table: each part double-quoted, so nothing in it is a wildcard. */
export function exactTablePattern(t: { schema: string; name: string }): string {
  const part = (s: string) => `"${s.replaceAll('"', '""')}"`;
  return `${part(t.schema)}.${part(t.name)}`;
}

/** `--strict-names` and one `-t` per table: pg_dump of exactly those tables (each must exist). */
export function tableDumpArgs(tables: ReadonlyArray<{ schema: string; name: string }>): string[] {
  return ['--strict-names', ...tables.flatMap((t) => ['-t', exactTablePattern(t)])];
}

/**
 * Writes `pg_dump -Fc` of the database at `url` (or of the tables `args` select) to `file`, mode 0600 (a `.partial` file renamed
 * when complete, so a failed dump never looks like an archive). The password goes
 * through PGPASSWORD, never on the command line; the TLS settings in the URL (sslmode,
 * sslrootcert, sslcert, sslkey) go to pg_dump as they are.
 */
export async function dumpDatabase(bin: PgDumpBinary, url: string, file: string, env: NodeJS.ProcessEnv = process.env, args: readonly string[] = []): Promise<{ bytes: number }> {
  const conn = await libpqProgramConnection(url, env);
  await mkdir(join(file, '..'), { recursive: true });
  const partial = `${file}.partial`;
  // Readable by its owner only (it holds every row): made 0600 before pg_dump writes into it.
  await unlink(partial).catch(() => undefined);
  await (await open(partial, 'wx', 0o600)).close();
  await chmod(partial, 0o600);
  const { $ } = await import('zx/core');
  const dump = $({ nothrow: true, quiet: true, verbose: false, env: conn.env })`${bin.path} -Fc -f ${partial} ${args} ${`--dbname=${conn.url}`}`;
  // Stopped (SIGTERM from Kubernetes, Ctrl-C): pg_dump goes too, with its partial file; it would otherwise run on,
  // holding its locks on the backup's tables, after this process is gone. Then the signal ends this process as it would have.
  const onSignal = (signal: NodeJS.Signals) => {
    void dump.kill('SIGTERM').catch(() => undefined);
    void dump.finally(async () => {
      await unlink(partial).catch(() => undefined);
      process.kill(process.pid, signal);
    });
  };
  const signals = ['SIGTERM', 'SIGINT'] as const;
  for (const s of signals) process.once(s, onSignal);
  const r = await dump.finally(() => {
    for (const s of signals) process.off(s, onSignal);
  });
  if (r.exitCode !== 0) {
    await unlink(partial).catch(() => undefined);
    const tail = r.stderr.trim().split('\n').slice(-3).join('\n');
    throw new Error(`pg_dump ${bin.version} exited with ${r.exitCode ?? r.signal}: ${tail}`);
  }
  await chmod(partial, 0o600);
  await rename(partial, file);
  const info = await stat(file);
  if ((info.mode & 0o077) !== 0) throw new Error(`the archive ${file} is readable by others (mode ${(info.mode & 0o777).toString(8)})`);
  return { bytes: info.size };
}
