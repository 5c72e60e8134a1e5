import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../../src/manifest/load.js';
import { baseManifest, toYaml } from './helpers.js';

const SPEC_EXAMPLE = `version: 1
name: cloudphone
source:
  url: \${CLOUDPHONE_CORE_URL}
  schemas: [public]
control:
  url: \${SPLIT_CONTROL_URL}
servers:
  billing-pg: \${BILLING_PG_URL}
mode: offline
retention:
  days: 7
  archive: backups/
services:
  user-service:
    database: cloudphone_user
    server: source
    role:
      name: cloudphone_user_svc
      password: \${USER_DB_PASSWORD}
    tables: [users, permissions, "user_*"]
    copies: []
    denormalize:
      - table: devices
        column: user_name
        from: users.username
        on: user_id
    config:
      - file: services/user-service/.env
        key: DB_DATABASE
        value: "{database}"
      - file: services/user-service/src/app.module.ts
        replace: "'cloudphone_core'"
        with: "'{database}'"
    health: http://localhost:30001/health
    restart: pm2 restart user-service
  billing-service:
    database: cloudphone_billing
    server: billing-pg
    tables: [orders]
ignore: [typeorm_metadata, "legacy_*"]
`;

describe('parseManifest: good manifests', () => {
  it('fills every default of a minimal manifest', () => {
    const m = parseManifest(
      'version: 1\nname: x\nsource: { url: "${U}" }\nservices:\n  a: { database: a_db, config: [{ file: .env, key: DB }] }\n',
      'm.yaml',
    );
    expect(m).toEqual({
      version: 1,
      name: 'x',
      source: { url: '${U}', schemas: ['public'], retire: false },
      control: null,
      servers: {},
      mode: 'offline',
      retention: { days: 7, archive: null },
      services: [
        {
          name: 'a', database: 'a_db', server: 'source', role: null, tables: [], copies: [], objects: [], denormalize: [],
          config: [{ file: '.env', key: 'DB', value: '{database}' }], health: null, restart: null,
        },
      ],
      ignore: [],
    });
  });

  it('reads the SPEC example as written, variables unexpanded', () => {
    const m = parseManifest(SPEC_EXAMPLE, 'plans/split.yaml');
    expect(m.control).toEqual({ url: '${SPLIT_CONTROL_URL}' });
    expect(m.servers).toEqual({ 'billing-pg': '${BILLING_PG_URL}' });
    expect(m.retention).toEqual({ days: 7, archive: 'backups/' });
    expect(m.services.map((s) => s.name)).toEqual(['user-service', 'billing-service']);
    const user = m.services[0]!;
    expect(user.role).toEqual({ name: 'cloudphone_user_svc', password: '${USER_DB_PASSWORD}' });
    expect(user.tables).toEqual(['users', 'permissions', 'user_*']);
    expect(user.denormalize).toEqual([{ table: 'devices', column: 'user_name', from: 'users.username', on: ['user_id'] }]);
    expect(user.config).toEqual([
      { file: 'services/user-service/.env', key: 'DB_DATABASE', value: '{database}' },
      { file: 'services/user-service/src/app.module.ts', replace: "'cloudphone_core'", with: "'{database}'" },
    ]);
    expect(user.health).toBe('http://localhost:30001/health');
    expect(user.restart).toBe('pm2 restart user-service');
    expect(m.services[1]!.server).toBe('billing-pg');
    expect(m.ignore).toEqual(['typeorm_metadata', 'legacy_*']);
  });

  it('keeps quoted table names with spaces, quotes and capitals as written', () => {
    const doc = baseManifest();
    (doc.services as Record<string, Record<string, unknown>>)['user-service']!.tables = ['"Billing ""Audit"" Log"', 'app."Users"', 'My Table'];
    const m = parseManifest(toYaml(doc), 'm.yaml');
    expect(m.services[0]!.tables).toEqual(['"Billing ""Audit"" Log"', 'app."Users"', 'My Table']);
  });

  it('accepts the same database name on two different servers, on as a list, and online mode', () => {
    const text = `version: 1
name: two-servers
source: { url: "\${A}", schemas: [public, app] }
servers: { other: "\${B}" }
mode: online
retention: { days: 30, archive: null }
services:
  a: { database: same_db, tables: [x], denormalize: [{ table: x, column: y_name, from: app.y.name, on: [tenant_id, y_id] }] }
  b: { database: same_db, server: other, tables: [y] }
`;
    const m = parseManifest(text, 'm.yaml');
    expect(m.mode).toBe('online');
    expect(m.retention.days).toBe(30);
    expect(m.source.schemas).toEqual(['public', 'app']);
    expect(m.services[0]!.denormalize[0]!.on).toEqual(['tenant_id', 'y_id']);
    expect(m.services.map((s) => [s.server, s.database])).toEqual([['source', 'same_db'], ['other', 'same_db']]);
  });

  it('reads source.retire, false unless written true', () => {
    const base = (retire: string) => `version: 1\nname: x\nsource: { url: u${retire} }\nservices:\n  a: { database: a }\n`;
    expect(parseManifest(base(''), 'm.yaml').source.retire).toBe(false);
    expect(parseManifest(base(', retire: true'), 'm.yaml').source.retire).toBe(true);
    expect(parseManifest(base(', retire: false'), 'm.yaml').source.retire).toBe(false);
  });

  it('keeps services in document order, numeric-looking names included', () => {
    const m = parseManifest('version: 1\nname: x\nsource: { url: u }\nservices:\n  zeta: { database: z }\n  10: { database: ten }\n  alpha: { database: a }\n', 'm.yaml');
    expect(m.services.map((s) => s.name)).toEqual(['zeta', '10', 'alpha']);
  });

  it('treats $ and $$ as literal text and accepts ${VAR:-default}', () => {
    const doc = baseManifest();
    (doc.source as Record<string, unknown>).url = 'postgres://u:pa$$w$rd@h/${DB:-cloudphone_core}';
    expect(parseManifest(toYaml(doc), 'm.yaml').source.url).toBe('postgres://u:pa$$w$rd@h/${DB:-cloudphone_core}');
  });
});
