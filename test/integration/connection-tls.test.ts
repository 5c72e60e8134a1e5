import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { query } from '../harness/servers.js';
import { nodePgConfig } from '../../src/conn/node-pg.js';
import { dumpDatabase, findPgDump } from '../../src/retention/pg-dump.js';
import { connectError } from '../../src/pg/errors.js';
import { startTlsServer, PW_PASSWORD, TLS_PASSWORD, type TlsServer } from './helpers/tls-server.js';
import { keepServices, splitFixture, type SplitFixture } from './helpers/split-fixture.js';

let server: TlsServer;
const fixtures: SplitFixture[] = [];

beforeAll(async () => {
  server = await startTlsServer();
}, 120_000);

afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
  await server?.stop();
});

/** One connection made with the tool's node-postgres configuration of `url`; what pg_stat_ssl says of it. */
async function connectWith(url: string): Promise<{ user: string; ssl: boolean; clientDn: string | null; socket: boolean }> {
  const c = new pg.Client(nodePgConfig(url, { connectionTimeoutMillis: 20_000 }));
  c.on('error', () => undefined);
  try {
    // Inside the try: a connection refused during authentication (a failing passwordCommand) is
    // ended too, or its server session waits in "authentication" for authentication_timeout
    // (60 s), and a DROP DATABASE on that server waits for it (the last test's prune did).
    await c.connect();
    const r = await c.query<{ user: string; ssl: boolean; client_dn: string | null; socket: boolean }>(
      `SELECT current_user AS user, s.ssl, s.client_dn, inet_server_addr() IS NULL AS socket
         FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()`,
    );
    const row = r.rows[0]!;
    return { user: row.user, ssl: row.ssl, clientDn: row.client_dn, socket: row.socket };
  } finally {
    await c.end();
  }
}

async function failure(url: string): Promise<Error & { code?: string }> {
  try {
    await connectWith(url);
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('the connection was expected to fail');
}

const enc = encodeURIComponent;

function tlsUrl(host: string, params: Record<string, string>, user = 'tlsuser', password: string | null = TLS_PASSWORD): string {
  const auth = password === null ? user : `${user}:${enc(password)}`;
  return `postgres://${auth}@${host}:${server.port}/postgres?${new URLSearchParams(params).toString()}`;
}

describe('TLS with libpq sslmode meanings, on a server with ssl=on and a CA made by the test', () => {
  it('sslmode=require encrypts without verifying; sslmode=disable is plain, as pg_hba decides', async () => {
    // The certificate names localhost only and its CA is unknown to Node: require does not care.
    expect(await connectWith(tlsUrl('127.0.0.1', { sslmode: 'require' }))).toMatchObject({ user: 'tlsuser', ssl: true });
    // prefer and allow: TLS without verification too (node-postgres cannot fall back).
    expect(await connectWith(tlsUrl('127.0.0.1', { sslmode: 'prefer' }))).toMatchObject({ ssl: true });
    // tlsuser is `hostnossl ... reject`: without TLS the server refuses it.
    const plain = await failure(tlsUrl('127.0.0.1', { sslmode: 'disable' }));
    expect(plain.code).toBe('28000');
    expect(plain.message).toContain('no encryption');
    // postgres may connect without TLS: disable is plain, and no sslmode is plain too.
    const admin = new URL(server.adminUrl);
    expect(await connectWith(`${server.adminUrl}?sslmode=disable`)).toMatchObject({ user: 'postgres', ssl: false });
    expect(await connectWith(admin.toString())).toMatchObject({ ssl: false });
  });

  it('sslmode=require with sslrootcert verifies the CA, as libpq does', async () => {
    expect(await connectWith(tlsUrl('127.0.0.1', { sslmode: 'require', sslrootcert: server.files.ca }))).toMatchObject({ ssl: true });
    const wrong = await failure(tlsUrl('127.0.0.1', { sslmode: 'require', sslrootcert: server.files.otherCa }));
    expect(wrong.message).toMatch(/self[- ]signed|unable to verify|issuer/i);
  });

  it('verify-full passes with the host name of the certificate and fails with another, naming the server', async () => {
    expect(await connectWith(tlsUrl('localhost', { sslmode: 'verify-full', sslrootcert: server.files.ca }))).toMatchObject({ ssl: true });
    const url = tlsUrl('127.0.0.1', { sslmode: 'verify-full', sslrootcert: server.files.ca });
    const err = await failure(url);
    const named = connectError(err, url, 'source');
    expect(named.message).toContain(`source server at postgres://tlsuser:***@127.0.0.1:${server.port}/postgres`);
    expect(named.message).toContain('certificate for another host name');
    expect(named.message).not.toContain(TLS_PASSWORD);
    expect(named.hint).toContain('verify-ca');
  });

  it('verify-ca checks the chain, not the host name, and fails with another CA', async () => {
    expect(await connectWith(tlsUrl('127.0.0.1', { sslmode: 'verify-ca', sslrootcert: server.files.ca }))).toMatchObject({ ssl: true });
    const url = tlsUrl('localhost', { sslmode: 'verify-ca', sslrootcert: server.files.otherCa });
    const named = connectError(await failure(url), url, 'billing-pg');
    expect(named.message).toContain(`billing-pg server at postgres://tlsuser:***@localhost:${server.port}/postgres`);
    expect(named.message).toContain('not signed by a trusted CA');
  });

  it('logs in with a client certificate (pg_hba `cert`) from sslcert and sslkey', async () => {
    const params = { sslmode: 'verify-full', sslrootcert: server.files.ca, sslcert: server.files.clientCert, sslkey: server.files.clientKey };
    expect(await connectWith(tlsUrl('localhost', params, 'certuser', null))).toEqual({ user: 'certuser', ssl: true, clientDn: '/CN=certuser', socket: false });
    const without = await failure(tlsUrl('localhost', { sslmode: 'verify-full', sslrootcert: server.files.ca }, 'certuser', null));
    expect(without.code).toBe('28000');
  });

  it('connects through a Unix socket written in both URL forms', async () => {
    const viaQuery = `postgresql:///postgres?host=${enc(server.socketDir)}&port=${server.port}&user=postgres`;
    const viaHost = `postgresql://postgres@${enc(server.socketDir)}:${server.port}/postgres`;
    expect(await connectWith(viaQuery)).toMatchObject({ user: 'postgres', socket: true, ssl: false });
    expect(await connectWith(viaHost)).toMatchObject({ user: 'postgres', socket: true, ssl: false });
    // As libpq: sslmode does not apply to a Unix socket.
    expect(await connectWith(`${viaHost}?sslmode=require`)).toMatchObject({ user: 'postgres', socket: true, ssl: false });
  });
});

describe('passwordCommand', () => {
  it('runs for each new connection, and its failure names the server without its output', async () => {
    const count = join(server.dir, 'pw-count');
    const command = `echo run >> ${count}; printf '%s\\n' '${PW_PASSWORD}'`;
    const url = `postgres://pwuser@127.0.0.1:${server.port}/postgres?passwordcommand=${enc(command)}`;
    const pool = new pg.Pool(nodePgConfig(url, { max: 3 }));
    try {
      const clients = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
      for (const c of clients) expect((await c.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u).toBe('pwuser');
      for (const c of clients) c.release();
    } finally {
      await pool.end();
    }
    expect((await readFile(count, 'utf8')).trim().split('\n')).toHaveLength(3);
    const bad = `postgres://pwuser@127.0.0.1:${server.port}/postgres?passwordcommand=${enc("echo leaked-output-9f1; echo more >&2; exit 3")}`;
    const err = await failure(bad);
    expect(err.message).toContain(`passwordCommand of 127.0.0.1:${server.port} (user pwuser) exited with 3`);
    expect(err.message).not.toContain('leaked-output-9f1');
    const named = connectError(err, bad, 'source');
    expect(named.exitCode).toBe(2);
    expect(named.message).toContain(`cannot connect to the source server at postgres://pwuser:***@127.0.0.1:${server.port}/postgres`);
    expect(named.message).not.toContain('leaked-output-9f1');
  });
});

describe('pg_dump 15 gets the same TLS settings (retention archives)', () => {
  it('dumps over verify-full with a client certificate, and refuses a server signed by another CA', async () => {
    await query(server.adminUrl, 'CREATE DATABASE dumpme');
    await query(server.adminUrl.replace(/\/postgres$/, '/dumpme'), 'CREATE TABLE t AS SELECT 1 AS x; GRANT SELECT ON t TO certuser, tlsuser');
    const { found } = await findPgDump(15);
    expect(found, 'pg_dump 15 (or newer) must be installed').not.toBeNull();
    const certParams = { sslmode: 'verify-full', sslrootcert: server.files.ca, sslcert: server.files.clientCert, sslkey: server.files.clientKey };
    const certUrl = `postgres://certuser@localhost:${server.port}/dumpme?${new URLSearchParams(certParams).toString()}`;
    const file = join(server.dir, 'cert.dump');
    expect((await dumpDatabase(found!, certUrl, file)).bytes).toBeGreaterThan(0);
    const toc = execFileSync(join(found!.path, '..', 'pg_restore'), ['-l', file], { encoding: 'utf8' });
    expect(toc).toMatch(/TABLE DATA public t/);
    // A password from the command, over TLS (tlsuser is refused without it).
    const count = join(server.dir, 'dump-count');
    const command = `echo run >> ${count}; printf '%s' '${TLS_PASSWORD}'`;
    const pwUrl = `postgres://tlsuser@localhost:${server.port}/dumpme?sslmode=verify-full&sslrootcert=${enc(server.files.ca)}&passwordcommand=${enc(command)}`;
    expect((await dumpDatabase(found!, pwUrl, join(server.dir, 'pw.dump'))).bytes).toBeGreaterThan(0);
    expect((await readFile(count, 'utf8')).trim().split('\n')).toHaveLength(1);
    const wrongCa = `postgres://certuser@localhost:${server.port}/dumpme?sslmode=verify-ca&sslrootcert=${enc(server.files.otherCa)}&sslcert=${enc(server.files.clientCert)}&sslkey=${enc(server.files.clientKey)}`;
    await expect(dumpDatabase(found!, wrongCa, join(server.dir, 'wrong.dump'))).rejects.toThrow(/certificate verify failed/);
  });
});

describe('a split whose source is reached over verify-full TLS with a password command', () => {
  it('plans, applies and archives with retention prune; the password appears nowhere', async () => {
    const pwFile = join(server.dir, 'split-password');
    await writeFile(pwFile, `${TLS_PASSWORD}\n`, { mode: 0o600 });
    const count = join(server.dir, 'split-count');
    const fx = await splitFixture({
      source: server.adminUrl,
      scale: 0.05,
      edit: (doc) => {
        const source = doc.source as Record<string, unknown>;
        source.sslmode = 'verify-full';
        source.sslrootcert = '${TLS_CA_FILE}';
        source.passwordCommand = `echo run >> ${count}; cat ${pwFile}`;
        doc.retention = { days: 7, archive: 'backups' };
        // Two services are enough to reach the source over TLS; the others' tables stay in it.
        keepServices(doc, ['billing-service', 'app-service']);
      },
    });
    fixtures.push(fx);
    // tlsuser may only connect over TLS (hostnossl reject) and by password: both come from the manifest.
    fx.env.TLS_CA_FILE = server.files.ca;
    // The certificate names localhost: through 127.0.0.1, verify-full refuses, naming the server.
    fx.env.CLOUDPHONE_CORE_URL = `postgres://tlsuser@127.0.0.1:${server.port}/${fx.sourceDb}`;
    const wrongHost = await fx.cli('plan', '-o', fx.planFile);
    expect(wrongHost.code).toBe(3);
    expect(wrongHost.stderr).toContain(`source server at postgres://tlsuser:***@127.0.0.1:${server.port}/${fx.sourceDb}?sslmode=verify-full`);
    expect(wrongHost.stderr).toContain('certificate for another host name');
    fx.env.CLOUDPHONE_CORE_URL = `postgres://tlsuser@localhost:${server.port}/${fx.sourceDb}`;
    const planned = await fx.cli('plan', '-o', fx.planFile);
    expect(planned.code, planned.stderr).toBe(0);
    const applied = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr).toBe(0);
    expect((await query<{ n: number }>(fx.service('billing').url, 'SELECT count(*)::int AS n FROM invoices'))[0]!.n).toBeGreaterThan(0);
    const verified = await fx.cli('verify', '--checksums');
    expect(verified.code, verified.stdout).toBe(0);
    const later = new Date(Date.now() + 8 * 86_400_000).toISOString();
    const pruned = await fx.cli('retention', 'prune', '--yes', '--now', later);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stdout).toContain('dropped');
    const archives = await readdir(join(fx.dir, 'backups'));
    expect(archives).toHaveLength(1);
    expect((await stat(join(fx.dir, 'backups', archives[0]!))).size).toBeGreaterThan(10_000);
    // Each new connection ran the command: far more than once.
    expect((await readFile(count, 'utf8')).trim().split('\n').length).toBeGreaterThan(3);
    let journal = '';
    const tables = await query<{ t: string }>(fx.controlUrl, `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'cloudphone_split'`);
    expect(tables.map((r) => r.t)).toContain('steps');
    for (const { t } of tables) {
      for (const row of await query<{ j: string }>(fx.controlUrl, `SELECT row_to_json(x)::text AS j FROM cloudphone_split."${t}" x`)) journal += `${row.j}\n`;
    }
    const seen = [wrongHost.stderr, planned.stdout, planned.stderr, applied.stdout, applied.stderr, verified.stdout, verified.stderr, pruned.stdout, pruned.stderr, await readFile(fx.planFile, 'utf8'), journal];
    for (const text of seen) expect(text).not.toContain(TLS_PASSWORD);
    expect(await readFile(fx.planFile, 'utf8')).toContain('sslmode: verify-full');
  });
});
