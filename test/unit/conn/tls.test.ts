import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConnection, redact, withCredentials } from '../../../src/conn/connection.js';
import { nodeTlsOptions, tlsSettings, verification } from '../../../src/conn/tls.js';
import { nodePgConfig } from '../../../src/conn/node-pg.js';
import { libpqProgramConnection, serverToServerConnection } from '../../../src/conn/libpq.js';
import { BadInputError } from '../../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'cps-tls-unit-'));
const ca = join(dir, 'ca.pem');
const cert = join(dir, 'c.crt');
const key = join(dir, 'c.key');
writeFileSync(ca, 'CA PEM');
writeFileSync(cert, 'CERT PEM');
writeFileSync(key, 'KEY PEM');

const tlsOf = (url: string) => {
  const c = parseConnection(url);
  return nodeTlsOptions(tlsSettings(c, 'x'), 'x');
};
const base = 'postgres://u:p@db.example:5432/app';

describe('sslmode, as libpq means it, for node-postgres', () => {
  it('maps each mode to what is verified', () => {
    expect(tlsOf(base)).toBe(false);
    expect(tlsOf(`${base}?sslmode=disable&sslrootcert=${ca}`)).toBe(false);
    for (const mode of ['allow', 'prefer', 'require']) expect(tlsOf(`${base}?sslmode=${mode}`)).toEqual({ rejectUnauthorized: false });
    const requireCa = tlsOf(`${base}?sslmode=require&sslrootcert=${ca}`);
    expect(requireCa).toMatchObject({ rejectUnauthorized: true, ca: 'CA PEM' });
    expect((requireCa as { checkServerIdentity: () => unknown }).checkServerIdentity()).toBeUndefined();
    const verifyCa = tlsOf(`${base}?sslmode=verify-ca&sslrootcert=${ca}`);
    expect(verifyCa).toMatchObject({ rejectUnauthorized: true, ca: 'CA PEM' });
    expect(verifyCa).toHaveProperty('checkServerIdentity');
    const full = tlsOf(`${base}?sslmode=verify-full&sslrootcert=${ca}&sslcert=${cert}&sslkey=${key}`);
    expect(full).toEqual({ rejectUnauthorized: true, ca: 'CA PEM', cert: 'CERT PEM', key: 'KEY PEM' });
    // No root certificate, or `system`: Node's CA store.
    expect(tlsOf(`${base}?sslmode=verify-full`)).toEqual({ rejectUnauthorized: true });
    expect(tlsOf(`${base}?sslrootcert=system`)).toEqual({ rejectUnauthorized: true });
    expect(verification({ sslmode: 'require', sslrootcert: null, sslcert: null, sslkey: null })).toBe('none');
  });

  it('keeps certificate paths unread until connecting, and names an unreadable one', () => {
    const url = `${base}?sslmode=verify-full&sslrootcert=${encodeURIComponent('/nonexistent/ca.pem')}`;
    expect(parseConnection(url).params.sslrootcert).toBe('/nonexistent/ca.pem');
    expect(() => nodePgConfig(url)).toThrow(BadInputError);
    expect(() => nodePgConfig(url)).toThrow(/cannot read the sslrootcert file \/nonexistent\/ca.pem \(ENOENT\)/);
    expect(() => nodePgConfig(`${base}?sslmode=verify_full`)).toThrow(/not one libpq knows/);
  });

  it('builds the node-postgres config from the parts, socket folders included', () => {
    const cfg = nodePgConfig('postgresql://%2Fvar%2Frun%2Fpostgresql:5433/app?user=u&application_name=mine', { application_name: 'tool' });
    expect(cfg).toMatchObject({ host: '/var/run/postgresql', port: 5433, user: 'u', database: 'app', ssl: false, application_name: 'mine' });
    const q = nodePgConfig('postgresql:///app?host=/var/run/postgresql&sslmode=require');
    // As libpq: no TLS over a Unix socket, whatever sslmode says.
    expect(q).toMatchObject({ host: '/var/run/postgresql', database: 'app', ssl: false });
    const command = nodePgConfig(`postgres://u@db/app?passwordcommand=${encodeURIComponent('echo x')}`);
    expect(typeof command.password).toBe('function');
    expect(command).not.toHaveProperty('passwordcommand');
  });
});

describe('the same settings for libpq', () => {
  it('gives pg_dump the TLS keywords in its URL and the password in PGPASSWORD only', async () => {
    const url = `postgres://u:s3cret-pw@db.example:5432/app?sslmode=verify-full&sslrootcert=${encodeURIComponent(ca)}&sslcert=${encodeURIComponent(cert)}&sslkey=${encodeURIComponent(key)}`;
    const r = await libpqProgramConnection(url, {});
    expect(r.env.PGPASSWORD).toBe('s3cret-pw');
    expect(r.url).not.toContain('s3cret-pw');
    expect(parseConnection(r.url).params).toEqual({ sslmode: 'verify-full', sslrootcert: ca, sslcert: cert, sslkey: key });
    const fromCommand = await libpqProgramConnection(`postgres://u@db/app?passwordcommand=${encodeURIComponent("printf ' tok-123 \\n'")}`, { PATH: process.env.PATH });
    expect(fromCommand.env.PGPASSWORD).toBe('tok-123');
    expect(fromCommand.url).toBe('postgres://u@db/app');
  });

  it('gives a subscription the source with the replication role, its sslmode and root certificate, not the tool\'s client certificate', () => {
    const url = `postgres://admin:a@db.example/app?sslmode=verify-full&sslrootcert=%2Fca.pem&sslcert=%2Fc.crt&sslkey=%2Fc.key&passwordcommand=x`;
    const c = parseConnection(serverToServerConnection(url, 'cps_repl', 'r-pw'));
    expect(c).toMatchObject({ user: 'cps_repl', password: 'r-pw', host: 'db.example', database: 'app', params: { sslmode: 'verify-full', sslrootcert: '/ca.pem' } });
    expect(Object.keys(c.params).sort()).toEqual(['sslmode', 'sslrootcert']);
    expect(parseConnection(withCredentials(url, 'svc', 'x')).params).not.toHaveProperty('passwordcommand');
    expect(redact(url)).toBe('postgres://admin:***@db.example/app?sslmode=verify-full&sslrootcert=%2Fca.pem&sslcert=%2Fc.crt&sslkey=%2Fc.key');
  });
});
