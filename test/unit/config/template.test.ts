import { describe, expect, it } from 'vitest';
import { renderValue, rewriteUrl } from '../../../src/config/template.js';
import { splitPostgresUrl, joinPostgresUrl } from '../../../src/config/postgres-url.js';
import { ConfigEditError } from '../../../src/config/config-edit-error.js';

const same = { database: 'cloudphone_user', sameServer: true };
const moved = { database: 'cloudphone_billing', sameServer: false, url: 'postgres://admin:other@billing-pg.internal:6543/postgres' };

describe('renderValue', () => {
  it('{database} becomes the database name, other text stays', () => {
    expect(renderValue('{database}', same, 'cloudphone_core')).toBe('cloudphone_user');
    expect(renderValue("'{database}'", same, null)).toBe("'cloudphone_user'");
    expect(renderValue('db-{database}-{other}', same, null)).toBe('db-cloudphone_user-{other}');
  });

  it('{url} on the same server changes only the database, keeping user, password and parameters', () => {
    const current = 'postgres://svc:p%40ss:w0rd@db.local:5432/cloudphone_core?sslmode=disable&application_name=x';
    expect(renderValue('{url}', same, current)).toBe('postgres://svc:p%40ss:w0rd@db.local:5432/cloudphone_user?sslmode=disable&application_name=x');
  });

  it('{url} on another server also takes its host and port, never its credentials', () => {
    const current = 'postgresql://svc:secret@localhost:5432/cloudphone_core?sslmode=disable';
    const out = renderValue('{url}', moved, current);
    expect(out).toBe('postgresql://svc:secret@billing-pg.internal:6543/cloudphone_billing?sslmode=disable');
    expect(out).not.toContain('admin');
  });

  it('{url} inside other text (JDBC) and URLs without database or credentials', () => {
    expect(renderValue('{url}', same, 'jdbc:postgresql://h:5432/core?ssl=true')).toBe('jdbc:postgresql://h:5432/cloudphone_user?ssl=true');
    expect(renderValue('{url}', same, 'postgres://h')).toBe('postgres://h/cloudphone_user');
    expect(renderValue('{url}', same, 'postgres://u@h?sslmode=require')).toBe('postgres://u@h/cloudphone_user?sslmode=require');
  });

  it('percent-encodes a unicode database name in a URL', () => {
    expect(renderValue('{url}', { database: 'données', sameServer: true }, 'postgres://u:p@h/core')).toBe('postgres://u:p@h/donn%C3%A9es');
  });

  it('keeps a password holding characters a URL parser would re-encode', () => {
    const current = 'postgres://svc:^p|a]ss@h:5432/core';
    expect(renderValue('{url}', same, current)).toBe('postgres://svc:^p|a]ss@h:5432/cloudphone_user');
  });

  it('refuses {url} with no URL to rewrite, or a moved service without a server URL', () => {
    expect(() => renderValue('{url}', same, null)).toThrow(ConfigEditError);
    expect(() => renderValue('{url}', same, 'cloudphone_core')).toThrow(/no postgres:\/\/ URL/);
    expect(() => renderValue('{url}', { database: 'x', sameServer: false }, 'postgres://h/core')).toThrow(/another server/);
  });
});

describe('postgres URL parts', () => {
  it('split and join give back the input byte for byte', () => {
    for (const url of ['postgres://a:b@h1:1,h2:2/db?x=1', 'postgresql:///db?host=/tmp', 'postgres://[::1]:5432/d', 'postgres://u@h']) {
      expect(joinPostgresUrl(splitPostgresUrl(url)!)).toBe(url);
    }
    expect(splitPostgresUrl('postgres://u:p@h1:1,h2:2/db?x=1')).toEqual({ scheme: 'postgres://', userinfo: 'u:p@', hosts: 'h1:1,h2:2', path: '/db', query: '?x=1' });
    expect(splitPostgresUrl('mysql://h/db')).toBeNull();
  });

  it('rewriteUrl replaces a multi-host list when the server moves', () => {
    expect(rewriteUrl('postgres://u:p@h1:1,h2:2/core', 'new', 'n:7')).toBe('postgres://u:p@n:7/new');
  });
});
