import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../../src/pg/cluster.js';

/** A PgBouncer in front of one PostgreSQL server, for tests of what a pooler does to a split. */
export interface PgBouncer {
  /** postgres://… of the bouncer, database `postgres` (any database name is passed through). */
  url: string;
  stop(): Promise<void>;
}

const BIN = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((p) => existsSync(p));

/** Why the pooler tests cannot run here, or null. */
export function pgbouncerMissing(): string | null {
  return BIN ? null : 'pgbouncer is not installed: apt-get install pgbouncer (.ci/run does it)';
}

/**
 * Starts PgBouncer with `pool_mode` in front of `upstream` (a superuser URL). Every
 * database name is passed through to the server (`*`); clients need no password (the
 * bouncer logs in with the upstream's credentials). As root it runs as `postgres`.
 */
export async function startPgBouncer(upstream: string, poolMode: 'session' | 'transaction' | 'statement'): Promise<PgBouncer> {
  const missing = pgbouncerMissing();
  if (missing) throw new Error(missing);
  const u = new URL(upstream);
  const dir = await mkdtemp(join(tmpdir(), 'cps-pgbouncer-'));
  const port = await freePort();
  const conn = [`host=${u.hostname}`, `port=${u.port || 5432}`, `user=${decodeURIComponent(u.username)}`, `password=${decodeURIComponent(u.password)}`].join(' ');
  await writeFile(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = ${conn}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = any',
      `pool_mode = ${poolMode}`,
      'max_client_conn = 200',
      'default_pool_size = 20',
      'ignore_startup_parameters = extra_float_digits,options',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  );
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const [, , uid, gid] = execFileSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' }).trim().split(':');
    await chown(dir, Number(uid), Number(gid));
  }
  const child = spawn(BIN!, [...(asRoot ? ['-u', 'postgres'] : []), join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `postgres://bouncer@127.0.0.1:${port}/postgres`;
  for (let i = 0; ; i++) {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
      break;
    } catch (err) {
      await c.end().catch(() => undefined);
      if (child.exitCode !== null || i > 200) {
        const log = await readFile(join(dir, 'pgbouncer.log'), 'utf8').catch(() => '');
        child.kill('SIGKILL');
        throw new Error(`pgbouncer did not start: ${(err as Error).message}\n${stderr}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url,
    async stop() {
      const ended = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await ended;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
