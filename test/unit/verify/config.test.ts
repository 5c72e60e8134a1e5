import { describe, expect, it } from 'vitest';
import { entryResolves } from '../../../src/verify/config.js';

describe('entryResolves', () => {
  it('reads a dotenv key rendered from {database}', () => {
    const entry = { file: 'svc/.env', key: 'DB_DATABASE', value: '{database}' };
    expect(entryResolves('A=1\nDB_DATABASE=cloudphone_user\n', entry, 'cloudphone_user')?.ok).toBe(true);
    const bad = entryResolves('DB_DATABASE=cloudphone_core\n', entry, 'cloudphone_user');
    expect(bad).toEqual({ ok: false, why: 'DB_DATABASE is "cloudphone_core", expected "cloudphone_user"' });
    expect(entryResolves('A=1\n', entry, 'x')).toEqual({ ok: false, why: 'DB_DATABASE is not set' });
  });

  it('checks every postgres URL of a {url} entry, never showing its password', () => {
    const entry = { file: 'config.json', key: 'db.url', value: '{url}' };
    const good = '{"db": {"url": "postgres://app:s3cret@db:5432/cloudphone_user?sslmode=require"}}';
    expect(entryResolves(good, entry, 'cloudphone_user')?.ok).toBe(true);
    const bad = entryResolves(good.replace('cloudphone_user', 'cloudphone_core'), entry, 'cloudphone_user');
    expect(bad?.ok).toBe(false);
    expect(bad?.why).toBe('db.url points at database cloudphone_core');
    expect(JSON.stringify(bad)).not.toContain('s3cret');
  });

  it('reads yaml paths', () => {
    const entry = { file: 'values.yaml', key: 'database.name', value: '{database}' };
    expect(entryResolves('database:\n  name: cloudphone_user\n', entry, 'cloudphone_user')?.ok).toBe(true);
  });

  it('checks a replace entry: the new text present, the old one gone', () => {
    const entry = { file: 'app.module.ts', replace: "'cloudphone_core'", with: "'{database}'" };
    expect(entryResolves("database: 'cloudphone_user',", entry, 'cloudphone_user')?.ok).toBe(true);
    expect(entryResolves("database: 'cloudphone_user', other: 'cloudphone_core'", entry, 'cloudphone_user')?.ok).toBe(false);
    expect(entryResolves("database: 'x',", entry, 'cloudphone_user')?.ok).toBe(false);
    expect(entryResolves('x', { ...entry, with: '{url}' }, 'cloudphone_user')).toBeNull();
  });
});
