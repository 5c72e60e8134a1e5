import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../../src/manifest/load.js';
import { resolveManifest } from '../../../src/manifest/resolve.js';
import { CatalogBuilder } from './catalog-builder.js';
import { sampleCatalog, sampleManifest } from './fixtures.js';

const MINI = (services: string, extra = '', schemas = '[public]'): string =>
  `version: 1\nname: t\nsource: { url: u, schemas: ${schemas} }\nservices:\n${services}\n${extra}`;

describe('resolveManifest: the sample split', () => {
  const r = resolveManifest(sampleManifest(), sampleCatalog(), 'plans/split.yaml');
  const svc = (name: string) => r.services.find((s) => s.name === name)!;

  it('expands globs and names into table keys per service', () => {
    expect(svc('user-service').tables).toEqual(['public.permissions', 'public.roles', 'public.user_sessions', 'public.user_settings', 'public.users']);
    expect(svc('billing-service').tables).toEqual(['public.Billing "Audit" Log', 'public.orders', 'public.payments']);
    expect(svc('api-gateway').tables).toEqual([]);
    expect(svc('api-gateway').copies).toEqual(['public.roles', 'public.users']);
    expect(svc('billing-service').copies).toEqual(['public.devices']);
    expect(r.warnings).toEqual([]);
  });

  it('moves a partitioned table with all its partitions, parents first', () => {
    expect(svc('device-service').tables).toEqual([
      'public.devices', 'public.events', 'public.events_2024', 'public.events_2024_01', 'public.events_2025', 'public.nodes',
    ]);
    expect(r.tables['public.events_2024_01']).toMatchObject({ fate: 'owned', service: 'device-service', partitionRoot: 'public.events', entry: 'services.device-service.tables[2]' });
    expect(r.tables['public.events']!.partitions).toEqual(['public.events_2024', 'public.events_2024_01', 'public.events_2025']);
  });

  it('records table facts: ignored tables, copies, the entry that placed them', () => {
    expect(r.tables['public.legacy_b']).toMatchObject({ fate: 'ignored', service: null, entry: 'ignore[1]' });
    expect(r.tables['public.users']).toMatchObject({ fate: 'owned', service: 'user-service', copiedBy: ['api-gateway'] });
    expect(r.tables['public.devices']!.copiedBy).toEqual(['billing-service']);
    expect(Object.keys(r.tables)).toHaveLength(17);
  });

  it('moves views whose tables all belong to one service, views over views included', () => {
    expect(svc('device-service').views).toEqual(['public.active_devices', 'public.device_overview']);
    expect(r.sourceViews.sort()).toEqual(['public.legacy_report', 'public.user_device_summary']);
  });

  it('resolves a denormalized column through the one foreign key', () => {
    expect(svc('device-service').denormalize).toEqual([
      {
        path: 'services.device-service.denormalize[0]',
        spec: { table: 'devices', column: 'user_name', from: 'users.username', on: [] },
        table: 'public.devices',
        column: 'user_name',
        from: { table: 'public.users', column: 'username' },
        type: 'character varying(64)',
        typeKey: null,
        on: [{ local: 'user_id', referenced: 'id' }],
        foreignKey: 'devices_user_id_fkey',
      },
    ]);
  });

  it('lists the foreign keys that cannot be kept, with their reason', () => {
    const dropped = (name: string) => svc(name).droppedForeignKeys.map((f) => [f.table, f.constraint, f.reason, f.referencedService, f.denormalizedBy]);
    expect(dropped('device-service')).toEqual([['public.devices', 'devices_user_id_fkey', 'cross-service', 'user-service', ['users.username']]]);
    expect(dropped('billing-service')).toEqual([
      ['public.orders', 'orders_user_id_fkey', 'cross-service', 'user-service', []],
      ['public.orders', 'orders_device_id_fkey', 'copy', 'device-service', []],
      ['public.devices', 'devices_user_id_fkey', 'cross-service', 'user-service', []],
      ['public.devices', 'devices_node_id_fkey', 'cross-service', 'device-service', []],
    ]);
    // users.role_id -> roles: both are copies in api-gateway, so it is kept.
    expect(dropped('api-gateway')).toEqual([]);
    expect(dropped('user-service')).toEqual([]);
  });
});

describe('resolveManifest: naming', () => {
  const catalog = new CatalogBuilder(['public', 'app'])
    .table('public.users')
    .table('app.users')
    .table('app.accounts')
    .table({ schema: 'app', name: 'Mixed Case' })
    .table({ schema: 'app', name: 'a*b' })
    .table({ schema: 'app', name: 'acb' })
    .table({ schema: 'app', name: 'dot.ted' })
    .table('public.Users')
    .build();

  it('matches unqualified names in any schema when unique, quoted names literally, case exactly', () => {
    const m = parseManifest(MINI(
      `  a: { database: a, tables: [public.users, accounts, '"Mixed Case"', '"a*b"', 'app."dot.ted"'] }\n  b: { database: b, tables: [app.users, Users, acb] }`,
      '', '[public, app]'), 'm.yaml');
    const r = resolveManifest(m, catalog, 'm.yaml');
    expect(r.services[0]!.tables).toEqual(['app.Mixed Case', 'app.a*b', 'app.accounts', 'app.dot.ted', 'public.users']);
    expect(r.services[1]!.tables).toEqual(['app.acb', 'app.users', 'public.Users']);
  });

  it('expands globs in both parts, across all source schemas when unqualified', () => {
    const m = parseManifest(MINI(`  a: { database: a, tables: ["app.*"] }\n  b: { database: b, tables: ["*sers"] }`, '', '[public, app]'), 'm.yaml');
    const cat = new CatalogBuilder(['public', 'app']).table('app.x').table('app.y').table('public.users').table('public.Users').build();
    const r = resolveManifest(m, cat, 'm.yaml');
    expect(r.services[0]!.tables).toEqual(['app.x', 'app.y']);
    expect(r.services[1]!.tables).toEqual(['public.Users', 'public.users']);
  });

  it('lets an ignore glob take only the tables no service owns', () => {
    const cat = new CatalogBuilder().table('a').table('b').table('c').build();
    const m = parseManifest(MINI('  s: { database: s, tables: [a] }', 'ignore: ["*", "a*"]\n'), 'm.yaml');
    const r = resolveManifest(m, cat, 'm.yaml');
    expect(r.services[0]!.tables).toEqual(['public.a']);
    expect(Object.values(r.tables).map((t) => [t.key, t.fate, t.entry])).toEqual([
      ['public.a', 'owned', 'services.s.tables[0]'],
      ['public.b', 'ignored', 'ignore[0]'],
      ['public.c', 'ignored', 'ignore[0]'],
    ]);
    expect(r.warnings.map((w) => [w.path, w.message])).toEqual([['ignore[1]', '"a*" matches only tables that services own']]);
  });

  it('notes a table one service names twice, quoted or not, and makes it once', () => {
    const cat = new CatalogBuilder().table('Webhook').table('b').build();
    const m = parseManifest(MINI('  s: { database: s, tables: [Webhook, b, \'"Webhook"\'] }'), 'm.yaml');
    const r = resolveManifest(m, cat, 'm.yaml');
    expect(r.services[0]!.tables).toEqual(['public.Webhook', 'public.b']);
    expect(r.warnings.map((w) => [w.path, w.message])).toEqual([['services.s.tables[2]', 'Webhook is listed twice in services.s.tables (also services.s.tables[0])']]);
  });

  it('lets ignore name views and returns an ignore entry matching nothing as a warning', () => {
    const cat = new CatalogBuilder().table('t').view('v', ['public.t', 'public.elsewhere']).build();
    const m = parseManifest(MINI('  a: { database: a, tables: [t] }', 'ignore: [v, nothing_here, "old_*"]\n'), 'm.yaml');
    const r = resolveManifest(m, cat, 'm.yaml');
    expect(r.sourceViews).toEqual(['public.v']);
    expect(r.warnings.map((w) => [w.path, w.message])).toEqual([
      ['ignore[1]', 'no table named "nothing_here"'],
      ['ignore[2]', '"old_*" matches no table'],
    ]);
  });
});

describe('resolveManifest: foreign keys to tables that stay', () => {
  it('drops a key to an ignored table, and keeps keys between a service\'s own copies', () => {
    const cat = new CatalogBuilder()
      .table('countries')
      .table('users', { columns: ['id', 'country_id'], fks: [{ columns: ['country_id'], references: 'countries' }] })
      .table('sessions', { columns: ['id', 'user_id'], fks: [{ columns: ['user_id'], references: 'users' }] })
      .build();
    const m = parseManifest(MINI('  u: { database: u, tables: [users, sessions] }', 'ignore: [countries]\n'), 'm.yaml');
    const [u] = resolveManifest(m, cat, 'm.yaml').services;
    expect(u!.droppedForeignKeys).toEqual([
      {
        table: 'public.users', constraint: 'users_country_id_fkey', columns: ['country_id'],
        references: { table: 'public.countries', columns: ['id'] }, referencedService: null, reason: 'ignored', denormalizedBy: [],
      },
    ]);
  });
});

describe('resolveManifest: denormalize joins', () => {
  const catalog = new CatalogBuilder()
    .table('tenants', { columns: ['id', 'tenant_id', 'name:text'], pk: ['tenant_id', 'id'] })
    .table('people', {
      columns: ['id', 'tenant_id', 'owner_id', 'creator_id'],
      fks: [
        { name: 'people_owner_fk', columns: ['owner_id', 'tenant_id'], references: 'tenants', refColumns: ['id', 'tenant_id'] },
        { name: 'people_creator_fk', columns: ['creator_id', 'tenant_id'], references: 'tenants', refColumns: ['id', 'tenant_id'] },
      ],
    })
    .build();
  const manifest = (on: string) => parseManifest(MINI(
    `  a: { database: a, tables: [tenants] }\n  b: { database: b, tables: [people], denormalize: [{ table: people, column: owner_name, from: tenants.name, ${on} }] }`), 'm.yaml');

  it('uses the foreign key on exactly the `on` columns, pairing them as the key does', () => {
    const d = resolveManifest(manifest('on: [tenant_id, owner_id]'), catalog, 'm.yaml').services[1]!.denormalize[0]!;
    expect(d.on).toEqual([{ local: 'tenant_id', referenced: 'tenant_id' }, { local: 'owner_id', referenced: 'id' }]);
    expect(d.foreignKey).toBe('people_owner_fk');
    expect(d.type).toBe('text');
  });

  it('falls back to the referenced primary key, by position', () => {
    const d = resolveManifest(manifest('on: [tenant_id, id]'), catalog, 'm.yaml').services[1]!.denormalize[0]!;
    expect(d.on).toEqual([{ local: 'tenant_id', referenced: 'tenant_id' }, { local: 'id', referenced: 'id' }]);
    expect(d.foreignKey).toBeNull();
  });
});
