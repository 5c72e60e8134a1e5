import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startLocalCluster } from '../../../src/pg/cluster.js';
import { query } from '../../harness/servers.js';
const PG15_BIN = process.env.PG15_BIN ?? '/usr/lib/postgresql/15/bin';

/**
 * A PostgreSQL 15 server (the system's binaries, so that its own pg_dump 15 reaches it)
 * with ssl=on and certificates made for the test with `openssl`: a CA, a server
 * certificate for the host name `localhost` only (no IP address in it), a client
 * certificate for user `certuser`, and a second CA that signed nothing of the server.
 *
 * Its pg_hba.conf:
 * - `postgres`: trust over TCP without TLS too (the test's own set-up connections);
 * - `tlsuser` (superuser, password `TLS_PASSWORD`): TLS only (`hostnossl ... reject`),
 *   scram-sha-256 over TLS;
 * - `certuser`: TLS only, authenticated by its client certificate (`cert`);
 * - `pwuser` (password `PW_PASSWORD`): scram-sha-256, with or without TLS;
 * - over the Unix socket: trust.
 */
export interface TlsServer {
  port: number;
  /** Folder of the server's Unix socket. */
  socketDir: string;
  /** postgres superuser, plain TCP, database postgres. */
  adminUrl: string;
  /** Files: ca.crt (the right CA), other-ca.crt (a CA that signed nothing here), client.crt/.key (certuser). */
  files: { ca: string; otherCa: string; clientCert: string; clientKey: string };
  dir: string;
  stop(): Promise<void>;
}

export const TLS_PASSWORD = 'tls-Secret-7d1f';
export const PW_PASSWORD = 'pw-Secret-93be';

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * A key and a certificate `name`.crt for `subject`, signed by `ca` (or self-signed when ca is
 * null). The keys are ECDSA P-256: made in a millisecond, where an RSA key takes a good part
 * of a second, and what TLS verifies (chain, host name, client certificate) is the same.
 */
function certificate(dir: string, name: string, subject: string, ca: string | null, extensions: string | null): void {
  openssl(dir, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  const ext = extensions ? ['-extfile', `${name}.ext`] : [];
  if (extensions) execFileSync('sh', ['-c', `cat > ${name}.ext`], { cwd: dir, input: extensions });
  if (ca === null) {
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-signkey', `${name}.key`, '-days', '2', '-out', `${name}.crt`, ...ext]);
  } else {
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-out', `${name}.crt`, ...ext]);
  }
}

function postgresIds(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const [, , uid, gid] = execFileSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' }).trim().split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

export async function startTlsServer(): Promise<TlsServer> {
  const dir = await mkdtemp(join(tmpdir(), 'cps-tls-'));
  await chmod(dir, 0o755);
  const caExt = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n';
  certificate(dir, 'ca', '/CN=cloudphone-split test CA', null, caExt);
  certificate(dir, 'other-ca', '/CN=another test CA', null, caExt);
  certificate(dir, 'server', '/CN=localhost', 'ca', 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n');
  certificate(dir, 'client', '/CN=certuser', 'ca', 'extendedKeyUsage=clientAuth\n');
  // The server reads its key as the postgres user, and refuses a key others may read.
  const ids = postgresIds();
  if (ids) await chown(join(dir, 'server.key'), ids.uid, ids.gid);
  await chmod(join(dir, 'server.key'), 0o600);
  await chmod(join(dir, 'client.key'), 0o600);
  const hba = [
    'local all all trust',
    'hostnossl all tlsuser 127.0.0.1/32 reject',
    'hostssl all tlsuser 127.0.0.1/32 scram-sha-256',
    'hostssl all certuser 127.0.0.1/32 cert',
    'hostnossl all certuser 127.0.0.1/32 reject',
    'host all pwuser 127.0.0.1/32 scram-sha-256',
    'host all all 127.0.0.1/32 trust',
    '',
  ].join('\n');
  await writeFile(join(dir, 'pg_hba.conf'), hba, { mode: 0o644 });
  const cluster = await startLocalCluster({
    binDir: PG15_BIN,
    settings: {
      ssl: 'on',
      ssl_cert_file: join(dir, 'server.crt'),
      ssl_key_file: join(dir, 'server.key'),
      ssl_ca_file: join(dir, 'ca.crt'),
      hba_file: join(dir, 'pg_hba.conf'),
      password_encryption: 'scram-sha-256',
      max_connections: '60',
    },
  });
  const adminUrl = cluster.url;
  try {
    await query(adminUrl, `CREATE ROLE tlsuser LOGIN SUPERUSER PASSWORD '${TLS_PASSWORD}'`);
    await query(adminUrl, `CREATE ROLE certuser LOGIN`);
    await query(adminUrl, `CREATE ROLE pwuser LOGIN PASSWORD '${PW_PASSWORD}'`);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return {
    port: cluster.port,
    socketDir: dirname(cluster.dataDir),
    adminUrl,
    files: { ca: join(dir, 'ca.crt'), otherCa: join(dir, 'other-ca.crt'), clientCert: join(dir, 'client.crt'), clientKey: join(dir, 'client.key') },
    dir,
    async stop() {
      await cluster.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
