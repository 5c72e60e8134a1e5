import { describe, expect, it } from 'vitest';
import { groupTables } from '../../../src/init/group-tables.js';
import type { Grouping } from '../../../src/init/model.js';
import { CatalogBuilder, type TableOptions } from '../manifest/catalog-builder.js';
import { sampleLikeCatalog } from './sample-catalog.js';

const refs = (...targets: string[]): TableOptions => ({ fks: targets.map((t) => ({ columns: [`${t}_id`], references: t })) });

/** Group key → its tables' names (without the schema), for readable expectations. */
function byKey(g: Grouping): Record<string, string[]> {
  return Object.fromEntries(g.groups.map((x) => [x.key, x.tables.map((t) => t.replace(/^public\./, ''))]));
}

function groupOf(g: Grouping, table: string): string | undefined {
  return g.groups.find((x) => x.tables.includes(table.includes('.') ? table : `public.${table}`))?.key;
}

describe('groupTables on the sample schema', () => {
  const g = groupTables(sampleLikeCatalog(), ['public']);

  it('keeps each service of the sample together and users from gluing them into one', () => {
    const same = (tables: string[]) => expect(tables.map((t) => groupOf(g, t))).toEqual(tables.map(() => groupOf(g, tables[0]!)));
    same(['devices', 'device_snapshots', 'device_events', 'nodes']);
    same(['orders', 'order_items', 'payments', 'invoices', 'plans', 'coupons', 'balance_transactions', 'Billing "Audit" Log']);
    same(['users', 'roles', 'permissions', 'user_roles', 'role_permissions', 'user_role_scopes', 'tenants', 'departments', 'quotas']);
    expect(g.groups.map((x) => x.key)).toEqual(['user', 'billing', 'device']);
    expect(g.groups.map((x) => x.center)).toEqual(['public.users', 'public.orders', 'public.devices']);
    expect(g.groups.every((x) => x.reason === 'hub')).toBe(true);
  });

  it('lists partitioned tables once, without their partitions, and every table exactly once', () => {
    const all = [...g.groups.flatMap((x) => x.tables), ...g.ignored.filter((i) => i.kind === 'table').map((i) => i.key)];
    expect(all).toContain('public.device_events');
    expect(all.filter((k) => k.startsWith('public.device_events_'))).toEqual([]);
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(33);
  });

  it('says why: prefix, tables folded in, views moving along', () => {
    const [user, billing, device] = g.groups;
    expect(device!.prefix).toBe('device');
    expect(user!.prefix).toBe('user');
    expect(billing!.prefix).toBe('order');
    expect(user!.absorbed).toEqual(expect.arrayContaining(['public.tenants', 'public.roles', 'public.permissions']));
    expect(user!.absorbed).not.toContain('public.users');
    expect(device!.views).toEqual(['public.active_devices']);
  });

  it('proposes bookkeeping tables and the view over two services for ignore', () => {
    expect(g.ignored).toEqual([
      { key: 'public.legacy_user_import', kind: 'table', reason: 'legacy-looking name' },
      { key: 'public.migrations', kind: 'table', reason: 'migration history' },
      { key: 'public.typeorm_metadata', kind: 'table', reason: 'TypeORM bookkeeping' },
      {
        key: 'public.device_owner_summary',
        kind: 'view',
        reason: 'a view over several services: reads devices (device-service) and users (user-service)',
      },
    ]);
  });

  it('lists exactly the foreign keys that cross groups', () => {
    const text = g.foreignKeys.map((k) => `${k.table}->${k.references.table} ${k.fromGroup}->${k.toGroup}`);
    expect(text.sort()).toEqual([
      'public.balance_transactions->public.users 1->0',
      'public.devices->public.users 2->0',
      'public.orders->public.devices 1->2',
      'public.orders->public.users 1->0',
      'public.usage_records->public.users 2->0',
    ]);
  });
});

describe('groupTables rules', () => {
  it('a component of several tables that only references a hub, with a name of its own, is its own group', () => {
    const c = new CatalogBuilder()
      .table('users')
      .table('audit_logs', refs('users'))
      .table('sessions', refs('users'))
      .table('tickets', refs('users'))
      .table('ticket_messages', refs('tickets', 'users'))
      .build();
    const g = groupTables(c, ['public']);
    expect(byKey(g)).toEqual({ user: ['users', 'audit_logs', 'sessions'], ticket: ['tickets', 'ticket_messages'] });
    expect(g.groups[1]!.reason).toBe('component');
    expect(g.foreignKeys.map((k) => k.constraint).sort()).toEqual(['ticket_messages_users_id_fkey', 'tickets_users_id_fkey']);
  });

  it('a hub nearly every table references (a tenant key beside other hubs) does not take the tables that hang off it alone', () => {
    // Sourcegraph: every table references tenants.
    const c = new CatalogBuilder()
      .table('tenants')
      .table('users', refs('tenants'))
      .table('user_emails', refs('tenants', 'users'))
      .table('user_settings', refs('tenants', 'users'))
      .table('event_logs', refs('tenants'))
      .table('feature_flags', refs('tenants'))
      .table('feature_flag_overrides', refs('tenants'))
      .table('lsif_uploads', refs('tenants'))
      .table('lsif_indexes', refs('tenants'))
      .build();
    const g = groupTables(c, ['public']);
    // Before, every table hanging off tenants alone went into one tenant group (event_logs, feature_*, lsif_* together).
    expect(byKey(g)).toEqual({
      user: ['users', 'tenants', 'user_emails', 'user_settings'],
      feature: ['feature_flags', 'feature_flag_overrides'],
      lsif: ['lsif_indexes', 'lsif_uploads'],
      other: ['event_logs'],
    });
  });

  it('a component touching two hubs joins the one it shares a name domain with', () => {
    const c = new CatalogBuilder()
      .table('users')
      .table('profiles', refs('users'))
      .table('orders', refs('users'))
      .table('order_lines', refs('orders'))
      .table('payment_refunds', refs('users', 'orders'))
      .table('user_orders_seen', refs('users', 'orders'))
      .build();
    const g = groupTables(c, ['public']);
    expect(groupOf(g, 'payment_refunds')).toBe(groupOf(g, 'orders'));
    expect(groupOf(g, 'user_orders_seen')).toBe(groupOf(g, 'users'));
    expect(groupOf(g, 'orders')).toBe('billing');
  });

  it('a prefixed group referenced by one other group stays apart; an unprefixed one folds in', () => {
    const c = new CatalogBuilder()
      .table('countries')
      .table('regions', refs('countries'))
      .table('devices')
      .table('device_events', refs('devices'))
      .table('device_snapshots', refs('devices'))
      .table('orders', refs('devices', 'countries'))
      .table('order_items', refs('orders'))
      .table('payments', refs('orders'))
      .build();
    const g = groupTables(c, ['public']);
    expect(byKey(g)).toEqual({
      billing: ['orders', 'countries', 'order_items', 'payments', 'regions'],
      device: ['devices', 'device_events', 'device_snapshots'],
    });
    expect(g.groups[0]!.absorbed).toEqual(['public.countries', 'public.regions']);
  });

  it('tables without foreign keys join by name, form prefix groups, or land in one catch-all group', () => {
    const c = new CatalogBuilder()
      .table('devices')
      .table('device_events', refs('devices'))
      .table('device_logs')
      .table('feature_flags')
      .table('feature_rollouts')
      .table('settings')
      .table('kv')
      .build();
    const g = groupTables(c, ['public']);
    expect(byKey(g)).toEqual({
      device: ['devices', 'device_events', 'device_logs'],
      feature: ['feature_flags', 'feature_rollouts'],
      other: ['kv', 'settings'],
    });
    expect(g.groups.map((x) => x.reason)).toEqual(['component', 'prefix', 'rest']);
    expect(g.groups[0]!.byPrefix).toEqual(['public.device_logs']);
  });

  it('views: one group moves, over a group and an ignored table is ignored, over ignored tables only stays', () => {
    const c = new CatalogBuilder()
      .table('users')
      .table('user_emails', refs('users'))
      .table('users_old')
      .view('active_users', ['public.users'])
      .view('active_user_emails', ['public.active_users', 'public.user_emails'])
      .view('merged_users', ['public.users', 'public.users_old'])
      .view('old_names', ['public.users_old'])
      .build();
    const g = groupTables(c, ['public']);
    expect(g.groups[0]!.views.sort()).toEqual(['public.active_user_emails', 'public.active_users']);
    expect(g.ignored).toEqual([
      { key: 'public.users_old', kind: 'table', reason: 'legacy-looking name (a backup copy?)' },
      { key: 'public.merged_users', kind: 'view', reason: 'a view reading users (user-service) and users_old, which stays in the source' },
    ]);
  });

  it('never takes a partitioned table for a leftover, whatever its name', () => {
    const c = new CatalogBuilder().table('task_events').table('task_events_tmp', { partitioned: true }).table('tmp_scratch').build();
    const g = groupTables(c, ['public']);
    expect(g.ignored.map((i) => i.key)).toEqual(['public.tmp_scratch']);
    expect(g.groups.flatMap((x) => x.tables)).toContain('public.task_events_tmp');
  });

  it('reads names written as one word (Mattermost\'s channelmembers, publicchannels) as the tables they start with', () => {
    // Mattermost's tables (server/channels/db/migrations/postgres): no foreign keys, no underscores.
    const names = ['channels', 'channelmembers', 'publicchannels', 'posts', 'threads', 'teams', 'teammembers', 'systems', 'uploadsessions', 'usersettings', 'users'];
    const b = new CatalogBuilder();
    for (const n of names) b.table(n);
    const g = groupTables(b.build(), ['public']);
    expect(byKey(g)).toEqual({
      channel: ['channels', 'channelmembers', 'publicchannels'],
      team: ['teams', 'teammembers'],
      user: ['users', 'usersettings'],
      other: ['posts', 'systems', 'threads', 'uploadsessions'],
    });
  });

  it('keys to ignored tables and to schemas outside the split are listed as crossing', () => {
    const c = new CatalogBuilder(['public', 'ref'])
      .table('users', { fks: [{ columns: ['country'], references: 'ref.countries', refColumns: ['code'] }] })
      .table('tmp_users', {})
      .table('user_notes', refs('users', 'tmp_users'))
      .table('ref.countries')
      .build();
    const g = groupTables(c, ['public']);
    expect(g.foreignKeys.map((k) => [k.references.table, k.toGroup])).toEqual([
      ['public.tmp_users', 'ignored'],
      ['ref.countries', 'outside'],
    ]);
    expect(g.groups.flatMap((x) => x.tables)).not.toContain('ref.countries');
  });

  it('is deterministic and gives every group a distinct key', () => {
    const c = new CatalogBuilder()
      .table('users')
      .table('user_a', refs('users'))
      .table('user_b', refs('users'))
      .table('user_groups')
      .table('user_group_members', refs('user_groups'))
      .table('user_group_roles', refs('user_groups'))
      .build();
    const a = groupTables(c, ['public']);
    expect(groupTables(c, ['public'])).toEqual(a);
    const keys = a.groups.map((x) => x.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(Object.fromEntries(a.groups.map((x) => [x.center, x.key]))).toEqual({ 'public.users': 'user', 'public.user_groups': 'user_group' });
  });

  it('places every table of a 1000-table schema exactly once', () => {
    const b = new CatalogBuilder().table('users');
    for (let d = 0; d < 50; d++) {
      b.table(`dom${d}_roots`, refs('users'));
      for (let t = 0; t < 19; t++) {
        const parent = t === 0 ? `dom${d}_roots` : `dom${d}_t${Math.floor(t / 2)}`;
        b.table(`dom${d}_t${t + 1}`, refs(parent, ...(t % 5 === 0 ? ['users'] : []), ...(t === 7 && d > 0 ? [`dom${d - 1}_roots`] : [])));
      }
    }
    const c = b.build();
    const g = groupTables(c, ['public']);
    const placed = g.groups.flatMap((x) => x.tables);
    expect(placed.length).toBe(c.tables.length);
    expect(new Set(placed).size).toBe(placed.length);
    expect(g.groups.length).toBeGreaterThan(10);
  });
});
