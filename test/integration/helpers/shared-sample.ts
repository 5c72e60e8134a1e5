import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { query, withDatabase } from '../../harness/servers.js';
import { loadSample, sampleDataSql, SAMPLE_SCHEMA_SQL } from '../../fixtures/index.js';
import { REPO_ROOT } from './cli.js';

/**
 * Work that several test files (in either of the two vitest workers) would each do the
 * same way, done once: the sample database of one scale on one server, and values
 * computed from it (the uninterrupted run of the crash files). The first worker to get a
 * server's advisory lock does the work; the other waits on that lock (no polling) and
 * then finds it done.
 */

const LOCK_SPACE = 1_718_907_014;
const COMPLETE = 'cloudphone-split test sample, loaded';

/** Runs `fn` holding a session advisory lock on `server` named `key`: one worker at a time. */
async function exclusively<T>(server: string, key: string, fn: () => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: server });
  c.on('error', () => undefined);
  await c.connect();
  try {
    await c.query('SELECT pg_advisory_lock($1, hashtext($2))', [LOCK_SPACE, key]);
    return await fn();
  } finally {
    await c.end().catch(() => undefined);
  }
}

function digest(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 12);
}

/**
 * The sample at `scale` in a database of `server` that files clone with `CREATE DATABASE
 * … TEMPLATE` and never change or connect to. Its name holds a digest of the sample's SQL,
 * so a server kept between runs (PG_TEST_URL) reuses it only while the sample is the same;
 * a load that died half way (no completion comment) is dropped and done again.
 */
export async function sharedSampleTemplate(server: string, scale: number): Promise<string> {
  const name = `cps_test_sample_${digest(SAMPLE_SCHEMA_SQL, sampleDataSql({ scale }))}_s${String(scale).replace('.', '_')}`;
  return exclusively(server, name, async () => {
    const [row] = await query<{ comment: string | null }>(server, `SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`, [name]);
    if (row?.comment === COMPLETE) return name;
    if (row) await query(server, `DROP DATABASE "${name}" WITH (FORCE)`);
    await query(server, `CREATE DATABASE "${name}"`);
    await loadSample(withDatabase(server, name), { scale });
    await query(server, `COMMENT ON DATABASE "${name}" IS '${COMPLETE}'`);
    return name;
  });
}

const BUILT_MAIN = fileURLToPath(new URL('../../../dist/src/cli/main.js', import.meta.url));
const THIS_HELPER = fileURLToPath(import.meta.url);

/**
 * A JSON value computed once per run of the servers, the build and the test helpers, by
 * whichever file asks first (`key` names what it is; equal keys must compute equal
 * values): kept in .tmp/shared-values, keyed by the main server's start time, the build's
 * time and `key`.
 */
export async function sharedValue<T>(server: string, key: string, compute: () => Promise<T>): Promise<T> {
  const [started] = await query<{ t: string }>(server, `SELECT pg_postmaster_start_time()::text AS t`);
  const built = (await stat(BUILT_MAIN)).mtimeMs;
  const helpers = await Promise.all([THIS_HELPER, fileURLToPath(new URL('./crash-case.ts', import.meta.url))].map((f) => readFile(f, 'utf8')));
  const dir = join(REPO_ROOT, '.tmp', 'shared-values');
  const file = join(dir, `${digest(server, started!.t, String(built), key, ...helpers)}.json`);
  return exclusively(server, file, async () => {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as T;
    } catch {
      // Not computed yet in this run.
    }
    const value = await compute();
    await mkdir(dir, { recursive: true });
    await writeFile(`${file}.part`, JSON.stringify(value));
    await rename(`${file}.part`, file);
    return value;
  });
}
