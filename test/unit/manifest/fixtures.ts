import type { Catalog } from '../../../src/catalog/model.js';
import { parseManifest } from '../../../src/manifest/load.js';
import type { Manifest } from '../../../src/manifest/model.js';
import { CatalogBuilder } from './catalog-builder.js';

/** A small cloud-phone source: four services' tables, a partition tree, views, an awkward name. */
export function sampleCatalog(): Catalog {
  return new CatalogBuilder()
    .table('roles', { columns: ['id', 'name:text'] })
    .table('users', { columns: ['id', 'username:character varying(64)', 'email:text', 'role_id'], fks: [{ columns: ['role_id'], references: 'roles' }] })
    .table('permissions', { columns: ['id', 'role_id'], fks: [{ columns: ['role_id'], references: 'roles' }] })
    .table('user_sessions', { columns: ['id', 'user_id'], fks: [{ columns: ['user_id'], references: 'users' }] })
    .table('user_settings', { columns: ['id', 'user_id'], fks: [{ columns: ['user_id'], references: 'users' }] })
    .table('nodes', { columns: ['id', 'name:text'] })
    .table('devices', {
      columns: ['id', 'name:text', 'user_id', 'node_id'],
      fks: [{ columns: ['user_id'], references: 'users' }, { columns: ['node_id'], references: 'nodes' }],
    })
    .table('orders', {
      columns: ['id', 'user_id', 'device_id'],
      fks: [{ columns: ['user_id'], references: 'users' }, { columns: ['device_id'], references: 'devices' }],
    })
    .table('payments', { columns: ['id', 'order_id'], fks: [{ columns: ['order_id'], references: 'orders' }] })
    .table({ schema: 'public', name: 'Billing "Audit" Log' }, { columns: ['id', 'order_id'], fks: [{ columns: ['order_id'], references: 'orders' }] })
    .table('events', { columns: ['id', 'device_id'], partitioned: true, fks: [{ columns: ['device_id'], references: 'devices' }] })
    .table('events_2024', { columns: ['id', 'device_id'], partitioned: true, partitionOf: 'events', fks: [{ columns: ['device_id'], references: 'devices', inherited: true }] })
    .table('events_2024_01', { columns: ['id', 'device_id'], partitionOf: 'events_2024', fks: [{ columns: ['device_id'], references: 'devices', inherited: true }] })
    .table('events_2025', { columns: ['id', 'device_id'], partitionOf: 'events', fks: [{ columns: ['device_id'], references: 'devices', inherited: true }] })
    .table('typeorm_metadata', { columns: ['type:text'] })
    .table('legacy_a')
    .table('legacy_b')
    .view('active_devices', ['public.devices'])
    .view('device_overview', ['public.active_devices', 'public.nodes'])
    .view('user_device_summary', ['public.users', 'public.devices'])
    .view('legacy_report', ['public.legacy_a'])
    .build();
}

export const SAMPLE_MANIFEST = `version: 1
name: cloudphone
source: { url: "\${CLOUDPHONE_CORE_URL}" }
services:
  user-service:
    database: cloudphone_user
    tables: [users, roles, permissions, "user_*"]
  device-service:
    database: cloudphone_device
    tables: [devices, nodes, events]
    denormalize:
      - { table: devices, column: user_name, from: users.username }
  billing-service:
    database: cloudphone_billing
    tables: [orders, payments, '"Billing ""Audit"" Log"']
    copies: [devices]
  api-gateway:
    database: cloudphone_auth
    copies: [users, roles]
ignore: [typeorm_metadata, "legacy_*", user_device_summary]
`;

export function sampleManifest(edit: (text: string) => string = (t) => t): Manifest {
  return parseManifest(edit(SAMPLE_MANIFEST), 'plans/split.yaml');
}
