import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../../src/manifest/load.js';
import { expandableFields, missingVariables } from '../../../src/manifest/expand.js';
import { manifestConnection } from '../../../src/manifest/connection-settings.js';
import { literalSecretProblems } from '../../../src/manifest/literal-secrets.js';
import { parseConnection, redact } from '../../../src/conn/connection.js';
import { problemsOf } from './helpers.js';

const WITH_SETTINGS = `version: 1
name: x
source:
  url: \${CORE_URL}
  sslmode: verify-full
  sslrootcert: \${CA_DIR}/rds-global-bundle.pem
  passwordCommand: aws rds generate-db-auth-token --hostname db --port 5432 --username split
control:
  url: \${CONTROL_URL}
  sslmode: require
servers:
  billing-pg: \${BILLING_URL}
  audit-pg:
    url: \${AUDIT_URL}
    sslmode: verify-ca
    sslrootcert: /etc/ssl/audit-ca.pem
    sslcert: /etc/ssl/split.crt
    sslkey: /etc/ssl/split.key
services:
  a: { database: a_db, server: audit-pg, tables: [a] }
  b: { database: b_db, server: billing-pg, tables: [b] }
`;

const ENV = {
  CORE_URL: 'postgres://split@db.example:5432/core?sslmode=disable',
  CA_DIR: '/etc/ssl',
  CONTROL_URL: 'host=ctl.example dbname=journal user=split password=ctl-secret',
  BILLING_URL: 'postgres://split:billing-secret@billing.example/postgres',
  AUDIT_URL: 'postgres://split:audit-secret@audit.example/postgres',
};

describe('connection settings beside url in the manifest', () => {
  it('reads the object form of source, control and servers, keeping the string form of servers', () => {
    const m = parseManifest(WITH_SETTINGS, 'm.yaml');
    expect(m.source.settings).toEqual({
      sslmode: 'verify-full',
      sslrootcert: '${CA_DIR}/rds-global-bundle.pem',
      passwordCommand: 'aws rds generate-db-auth-token --hostname db --port 5432 --username split',
    });
    expect(m.control).toEqual({ url: '${CONTROL_URL}', settings: { sslmode: 'require' } });
    expect(m.servers).toEqual({ 'billing-pg': '${BILLING_URL}', 'audit-pg': '${AUDIT_URL}' });
    expect(m.serverSettings).toEqual({
      'audit-pg': { sslmode: 'verify-ca', sslrootcert: '/etc/ssl/audit-ca.pem', sslcert: '/etc/ssl/split.crt', sslkey: '/etc/ssl/split.key' },
    });
    expect(literalSecretProblems(m, 'm.yaml')).toEqual([]);
    expect(expandableFields(m).map((f) => f.path)).toContain('source.sslrootcert');
    expect(missingVariables(m, { ...ENV, CA_DIR: undefined }, 'm.yaml').map((p) => p.path)).toEqual(['source.sslrootcert']);
  });

  it('writes the settings into each connection; they win over the same keywords in the URL', () => {
    const m = parseManifest(WITH_SETTINGS, 'm.yaml');
    const source = parseConnection(manifestConnection(m, 'source.url', m.source.url, ENV, 'm.yaml'));
    expect(source.params).toEqual({
      sslmode: 'verify-full',
      sslrootcert: '/etc/ssl/rds-global-bundle.pem',
      passwordcommand: 'aws rds generate-db-auth-token --hostname db --port 5432 --username split',
    });
    const control = parseConnection(manifestConnection(m, 'control.url', m.control!.url, ENV, 'm.yaml'));
    expect(control).toMatchObject({ host: 'ctl.example', database: 'journal', password: 'ctl-secret', params: { sslmode: 'require' } });
    const audit = parseConnection(manifestConnection(m, 'servers.audit-pg', m.servers['audit-pg']!, ENV, 'm.yaml'));
    expect(audit.params).toEqual({ sslmode: 'verify-ca', sslrootcert: '/etc/ssl/audit-ca.pem', sslcert: '/etc/ssl/split.crt', sslkey: '/etc/ssl/split.key' });
    const billing = parseConnection(manifestConnection(m, 'servers.billing-pg', m.servers['billing-pg']!, ENV, 'm.yaml'));
    expect(billing.params).toEqual({});
    expect(() => manifestConnection(m, 'servers.billing-pg', m.servers['billing-pg']!, { ...ENV, BILLING_URL: 'postgres://h/db?sslmode=verify' }, 'm.yaml')).toThrow(
      'm.yaml: servers.billing-pg: sslmode "verify" is not one libpq knows',
    );
    // Output shows neither the password nor the command.
    const shown = redact(manifestConnection(m, 'source.url', m.source.url, ENV, 'm.yaml'));
    expect(shown).toBe('postgres://split:***@db.example:5432/core?sslmode=verify-full&sslrootcert=%2Fetc%2Fssl%2Frds-global-bundle.pem');
  });

  it('reports a wrong sslmode, an unknown key and a server object without url, with fixes', () => {
    const bad = WITH_SETTINGS.replace('sslmode: verify-ca', 'sslmode: verify_ca\n    sslrotcert: x').replace('    url: ${AUDIT_URL}\n', '');
    const problems = problemsOf(bad);
    expect(problems.map((p) => p.path).sort()).toEqual(['servers.audit-pg.sslmode', 'servers.audit-pg.sslrotcert', 'servers.audit-pg.url', 'services.a.server'].sort());
    const mode = problems.find((p) => p.path === 'servers.audit-pg.sslmode')!;
    expect(mode.message).toContain('"verify_ca" is not one libpq knows');
    expect(mode.fix).toBe('write sslmode: verify-ca');
    expect(problems.find((p) => p.path === 'servers.audit-pg.sslrotcert')!.fix).toContain('sslrootcert');
  });
});
