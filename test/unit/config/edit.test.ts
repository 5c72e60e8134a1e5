import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigEditError, ConfigEditErrors } from '../../../src/config/config-edit-error.js';
import { applyConfigEntry, configFormat, configTarget, entryLabel, planConfigEdit, planConfigEdits, sha256 } from '../../../src/config/edit.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cps-config-'));
  await mkdir(join(dir, 'svc'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const same = { database: 'cloudphone_user', serverUrl: 'postgres://admin:adminpw@localhost:5432/postgres', sameServer: true };

describe('configFormat and entryLabel', () => {
  it('picks the editor from the file name', () => {
    expect(configFormat('svc/.env')).toBe('dotenv');
    expect(configFormat('svc/.env.production')).toBe('dotenv');
    expect(configFormat('svc/prod.env')).toBe('dotenv');
    expect(configFormat('values.YAML')).toBe('yaml');
    expect(configFormat('a.yml')).toBe('yaml');
    expect(configFormat('ormconfig.json')).toBe('json');
    expect(configFormat('src/app.module.ts')).toBe('text');
  });

  it('labels entries for display, masking passwords', () => {
    expect(entryLabel({ file: '.env', key: 'DB_DATABASE', value: '{database}' })).toBe('DB_DATABASE=');
    expect(entryLabel({ file: 'v.yaml', key: 'database.name', value: '{database}' })).toBe('database.name');
    expect(entryLabel({ file: 'a.ts', replace: "'cloudphone_core'", with: "'{database}'" })).toBe(`replace "'cloudphone_core'"`);
    expect(entryLabel({ file: 'a.ts', replace: 'postgres://u:pw@h/core', with: '{url}' })).toBe('replace "postgres://u:***@h/core"');
  });
});

describe('configTarget', () => {
  const urls: Record<string, string> = {
    source: 'postgres://a:x@db1:5432/core',
    alias: 'postgres://b:y@db1:5432/postgres',
    other: 'postgres://c:z@db2:6000/postgres',
  };
  it('is the same server for "source" and for another name at the same host:port', () => {
    expect(configTarget({ service: 's', server: 'source', database: 'd' }, (s) => urls[s]!).sameServer).toBe(true);
    expect(configTarget({ service: 's', server: 'alias', database: 'd' }, (s) => urls[s]!).sameServer).toBe(true);
    expect(configTarget({ service: 's', server: 'other', database: 'd' }, (s) => urls[s]!)).toEqual({ database: 'd', serverUrl: urls.other, sameServer: false });
  });
});

describe('planConfigEdit', () => {
  it('plans a dotenv edit with hashes and a masked diff, without touching the file', async () => {
    const text = 'DB_HOST=localhost\nDB_PASSWORD=hunter2\nDB_DATABASE=cloudphone_core\n';
    await writeFile(join(dir, 'svc/.env'), text);
    const r = await planConfigEdit(dir, { file: 'svc/.env', key: 'DB_DATABASE', value: '{database}' }, same);
    expect(r.before).toBe(text);
    expect(r.after).toBe(text.replace('cloudphone_core', 'cloudphone_user'));
    expect(r.edit).toMatchObject({ file: 'svc/.env', entry: 'DB_DATABASE=', beforeHash: sha256(text), afterHash: sha256(r.after) });
    expect(r.edit.diff).toContain('-DB_DATABASE=cloudphone_core\n+DB_DATABASE=cloudphone_user');
    expect(r.edit.diff).toContain(' DB_PASSWORD=***');
    expect(r.edit.diff).not.toContain('hunter2');
    expect(await readFile(join(dir, 'svc/.env'), 'utf8')).toBe(text);
  });

  it('rewrites a URL in YAML for a service moving to another server', async () => {
    await writeFile(join(dir, 'values.yml'), 'db:\n  url: postgres://svc:pw@localhost:5432/cloudphone_core?sslmode=disable # main\n');
    const r = await planConfigEdit(dir, { file: 'values.yml', key: 'db.url', value: '{url}' }, {
      database: 'cloudphone_billing',
      serverUrl: 'postgres://root:rootpw@billing:6432/postgres',
      sameServer: false,
    });
    expect(r.after).toBe('db:\n  url: postgres://svc:pw@billing:6432/cloudphone_billing?sslmode=disable # main\n');
    expect(r.edit.diff).toContain('+  url: postgres://svc:***@billing:6432/cloudphone_billing?sslmode=disable # main');
    expect(r.edit.diff).not.toContain(':pw@');
  });

  it('keeps a byte order mark', async () => {
    await writeFile(join(dir, 'c.json'), '\uFEFF{\n\t"database": "core"\n}\n');
    const r = await planConfigEdit(dir, { file: 'c.json', key: 'database', value: '{database}' }, same);
    expect(r.after).toBe('\uFEFF{\n\t"database": "cloudphone_user"\n}\n');
  });

  it('names the file and entry when it fails: missing file, missing key, key on a text file, not UTF-8', async () => {
    const fails = async (entry: Parameters<typeof planConfigEdit>[1], pattern: RegExp): Promise<void> => {
      const err = await planConfigEdit(dir, entry, same).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigEditError);
      expect((err as ConfigEditError).file).toBe(entry.file);
      expect((err as Error).message).toMatch(pattern);
      expect((err as ConfigEditError).fix.length).toBeGreaterThan(10);
    };
    await fails({ file: 'svc/missing.env', key: 'A', value: '{database}' }, /svc\/missing\.env: A=: the file does not exist/);
    await writeFile(join(dir, 'svc/.env'), 'A=1\n');
    await fails({ file: 'svc/.env', key: 'DB', value: '{database}' }, /svc\/\.env: DB=: key DB is not set/);
    await writeFile(join(dir, 'svc/app.ts'), 'x');
    await fails({ file: 'svc/app.ts', key: 'DB', value: '{database}' }, /replace\/with|\.env, \.yaml/);
    await writeFile(join(dir, 'latin1.env'), Buffer.from([0x41, 0x3d, 0xe9, 0x0a]));
    await fails({ file: 'latin1.env', key: 'A', value: '{database}' }, /not UTF-8/);
  });

  it('turns a problem into a manifest problem at its key path', async () => {
    const err = (await planConfigEdit(dir, { file: 'nope.env', key: 'A', value: 'x' }, same).catch((e: unknown) => e)) as ConfigEditError;
    expect(err.toProblem('plans/split.yaml', 'services.user-service.config[0]')).toMatchObject({
      file: 'plans/split.yaml',
      path: 'services.user-service.config[0]',
      message: 'nope.env: A=: the file does not exist',
    });
  });
});

describe('planConfigEdits', () => {
  it('chains entries on one file so each applies to the previous result', async () => {
    const text = 'DB_DATABASE=core\nDATABASE_URL=postgres://u:p@h/core\n';
    await writeFile(join(dir, '.env'), text);
    const [a, b] = await planConfigEdits(dir, [
      { entry: { file: '.env', key: 'DB_DATABASE', value: '{database}' }, target: same },
      { entry: { file: '.env', key: 'DATABASE_URL', value: '{url}' }, target: same },
    ]);
    expect(a!.edit.beforeHash).toBe(sha256(text));
    expect(b!.edit.beforeHash).toBe(a!.edit.afterHash);
    expect(b!.after).toBe('DB_DATABASE=cloudphone_user\nDATABASE_URL=postgres://u:p@h/cloudphone_user\n');
  });

  it('reports every problem at once', async () => {
    await writeFile(join(dir, '.env'), 'A=1\n');
    const err = await planConfigEdits(dir, [
      { entry: { file: '.env', key: 'B', value: 'x' }, target: same },
      { entry: { file: 'gone.yaml', key: 'a', value: 'x' }, target: same },
      { entry: { file: 'gone.yaml', key: 'b', value: 'x' }, target: same },
      { entry: { file: '.env', key: 'A', value: 'x' }, target: same },
    ]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigEditErrors);
    expect((err as ConfigEditErrors).errors.map((e) => e.file)).toEqual(['.env', 'gone.yaml']);
  });
});

describe('applyConfigEntry', () => {
  it('renders `with` from the replaced text for {url}', () => {
    const entry = { file: 'atlas.hcl', replace: 'postgres://u:p@h:5432/cloudphone_core?sslmode=disable', with: '{url}' };
    expect(applyConfigEntry('url = "postgres://u:p@h:5432/cloudphone_core?sslmode=disable"\n', entry, same)).toBe(
      'url = "postgres://u:p@h:5432/cloudphone_user?sslmode=disable"\n',
    );
  });
});
