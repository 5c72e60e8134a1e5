import type { Catalog } from '../../../src/catalog/model.js';
import { CatalogBuilder } from '../manifest/catalog-builder.js';

type Fk = [columns: string, references: string];

const fks = (...list: Fk[]) => list.map(([c, r]) => ({ columns: c.split(','), references: r }));

/** The tables, foreign keys and views of the sample cloudphone_core schema (src/demo/sample-schema*.ts), by hand. */
export function sampleLikeCatalog(): Catalog {
  const b = new CatalogBuilder(['public'], 'cloudphone_core');
  b.table('tenants')
    .table('departments', { fks: fks(['tenant_id', 'tenants'], ['parent_id', 'departments']) })
    .table('users', { fks: fks(['tenant_id', 'tenants'], ['department_id', 'departments']) })
    .table('roles')
    .table('permissions')
    .table('role_permissions', { pk: [], fks: fks(['role_id', 'roles'], ['permission_id', 'permissions']) })
    .table('user_roles', { pk: [], fks: fks(['user_id', 'users'], ['role_id', 'roles']) })
    .table('user_role_scopes', { pk: [], fks: [{ columns: ['role_id', 'user_id'], references: 'user_roles', refColumns: ['role_id', 'user_id'] }] })
    .table('user_profiles', { pk: [], fks: fks(['user_id', 'users']) })
    .table('user_settings', { pk: [], fks: fks(['user_id', 'users']) })
    .table('user_login_history', { pk: [], fks: fks(['user_id', 'users']) })
    .table('quotas', { fks: fks(['tenant_id', 'tenants']) })
    .table('audit_logs', { fks: fks(['user_id', 'users']) })
    .table('api_keys', { fks: fks(['user_id', 'users']) })
    .table('refresh_tokens', { fks: fks(['user_id', 'users']) })
    .table('nodes')
    .table('devices', { fks: fks(['user_id', 'users'], ['node_id', 'nodes']) })
    .table('device_snapshots', { fks: fks(['device_id', 'devices']) })
    .table('device_events', { partitioned: true, fks: fks(['device_id', 'devices']) })
    .table('device_events_2025_01', { partitionOf: 'device_events', fks: [{ columns: ['device_id'], references: 'devices', inherited: true }] })
    .table('device_events_2025_02', { partitionOf: 'device_events', fks: [{ columns: ['device_id'], references: 'devices', inherited: true }] })
    .table('applications')
    .table('device_applications', { pk: [], fks: fks(['device_id', 'devices'], ['application_id', 'applications']) })
    .table('plans')
    .table('coupons')
    .table('orders', { fks: fks(['user_id', 'users'], ['device_id', 'devices'], ['plan_id', 'plans'], ['coupon_id', 'coupons']) })
    .table('order_items', { pk: [], fks: fks(['order_id', 'orders']) })
    .table('payments', { fks: fks(['order_id', 'orders']) })
    .table('invoices', { fks: fks(['order_id', 'orders']) })
    .table('balance_transactions', { fks: fks(['user_id', 'users'], ['order_id', 'orders']) })
    .table('usage_records', { fks: fks(['device_id', 'devices'], ['user_id', 'users']) })
    .table('Billing "Audit" Log', { fks: fks(['order_id', 'orders']) })
    .table('typeorm_metadata', { pk: [] })
    .table('migrations')
    .table('legacy_user_import', { pk: [] })
    .view('active_devices', ['public.devices'])
    .view('device_owner_summary', ['public.devices', 'public.users']);
  return b.build();
}
