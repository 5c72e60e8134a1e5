import { describe, expect, it } from 'vitest';
import { legacyReason } from '../../../src/init/legacy-table.js';
import { cleanKey, databaseNames, serviceName, sourceVariable, splitName } from '../../../src/init/naming.js';
import { domainOf, nameWords, singular, tableDomain, tableFamily } from '../../../src/init/table-family.js';
import { identifierProblem } from '../../../src/manifest/identifiers.js';

describe('table families', () => {
  it('reads the first meaningful word, singular, whatever the casing', () => {
    expect(nameWords('UserLoginHistory')).toEqual(['user', 'login', 'history']);
    expect(nameWords('Billing "Audit" Log')).toEqual(['billing', 'audit', 'log']);
    expect(tableFamily('device_snapshots')).toBe('device');
    expect(tableFamily('users')).toBe('user');
    expect(tableFamily('categories')).toBe('category');
    expect(tableFamily('addresses')).toBe('address');
    expect(tableFamily('status')).toBe('status');
    expect(tableFamily('tbl_orders')).toBe('order');
    expect(tableFamily('___')).toBeNull();
    expect(singular('bus')).toBe('bus');
  });

  it('puts orders, payments, invoices and billing in one domain', () => {
    expect(['orders', 'order_items', 'payments', 'invoices', 'Billing "Audit" Log', 'balance_transactions'].map(tableDomain)).toEqual(
      Array(6).fill('billing'),
    );
    expect(domainOf('device')).toBe('device');
    expect(domainOf(null)).toBeNull();
  });
});

describe('legacy-looking tables', () => {
  it('recognises bookkeeping and leftovers', () => {
    for (const name of ['typeorm_metadata', 'migrations', 'schema_migrations', 'knex_migrations', 'knex_migrations_lock',
      'flyway_schema_history', 'orders_old', 'users_bak', 'legacy_user_import', 'tmp_import', 'SequelizeMeta', 'orders_backup_2021']) {
      expect(legacyReason(name), name).not.toBeNull();
    }
  });

  it('leaves ordinary tables alone', () => {
    for (const name of ['users', 'gold_prices', 'threshold', 'temperature', 'migration_plans', 'bakeries']) {
      expect(legacyReason(name), name).toBeNull();
    }
  });
});

describe('names', () => {
  it('cleans group keys to ASCII identifiers', () => {
    expect(cleanKey('Device Event')).toBe('device_event');
    expect(cleanKey('2fa_codes')).toBe('fa_codes');
    expect(cleanKey('用户')).toBeNull();
    expect(cleanKey('é')).toBe('e');
    expect(cleanKey('a'.repeat(40))!.length).toBeLessThanOrEqual(24);
  });

  it('names services and databases', () => {
    expect(serviceName('user')).toBe('user-service');
    expect(serviceName('user_group')).toBe('user-group-service');
    expect(databaseNames('cloudphone_core', ['user', 'device'])).toEqual(['cloudphone_core_user', 'cloudphone_core_device']);
  });

  it('keeps database names valid, short, unique and away from the source and the journal', () => {
    const long = databaseNames('x'.repeat(63), ['user', 'user_service_of_long_names', 'other']);
    for (const n of long) {
      expect(identifierProblem(n, 'database name')).toBeNull();
      expect(Buffer.byteLength(n)).toBeLessThanOrEqual(63);
    }
    expect(new Set(long).size).toBe(3);
    expect(databaseNames('Shop-DB', ['order'])).toEqual(['shop_db_order']);
    expect(databaseNames('cloudphone', ['split'])).toEqual(['cloudphone_split2']);
    expect(databaseNames('db_user', ['user'])[0]).toBe('db_user_user');
  });

  it('derives the source variable and the split name from the database name', () => {
    expect(sourceVariable('cloudphone_core')).toBe('CLOUDPHONE_CORE_URL');
    expect(sourceVariable('Shop-DB')).toBe('SHOP_DB_URL');
    expect(sourceVariable('9lives')).toBe('DB_9LIVES_URL');
    expect(sourceVariable('数据')).toBe('SOURCE_DATABASE_URL');
    expect(splitName('cloudphone_core')).toBe('cloudphone_core');
    expect(splitName('Shop DB')).toBe('shop-db');
  });
});
