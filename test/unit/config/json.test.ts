import { describe, expect, it } from 'vitest';
import { editJson, readJson } from '../../../src/config/json.js';
import { ConfigEditError } from '../../../src/config/config-edit-error.js';

const config = { type: 'postgres', database: { name: 'cloudphone_core', port: 5432, hosts: ['a', 'b'] }, z: 'é' };

describe('editJson', () => {
  for (const [label, indent] of [
    ['2 spaces', 2],
    ['4 spaces', 4],
    ['tabs', '\t'],
  ] as const) {
    it(`keeps an indentation of ${label}, the key order and the trailing newline`, () => {
      const text = `${JSON.stringify(config, null, indent)}\n`;
      const out = editJson(text, 'database.name', 'cloudphone_user');
      const expected = `${JSON.stringify({ ...config, database: { ...config.database, name: 'cloudphone_user' } }, null, indent)}\n`;
      expect(out).toBe(expected);
    });
  }

  it('keeps unusual spacing, comments and no trailing newline', () => {
    const text = '{\n  // the database\n  "db" :  { "name":"core" , "x": 1.0 }\n}';
    expect(editJson(text, 'db.name', 'user')).toBe('{\n  // the database\n  "db" :  { "name":"user" , "x": 1.0 }\n}');
  });

  it('indexes arrays and escapes the new value', () => {
    const text = '{"dbs": [{"url": "a"}, {"url": "b"}]}';
    expect(editJson(text, 'dbs.1.url', 'say "hi"')).toBe('{"dbs": [{"url": "a"}, {"url": "say \\"hi\\""}]}');
    expect(readJson(editJson(text, 'dbs[0].url', 'données'), 'dbs.0.url')).toBe('données');
  });

  it('keys with dots can be written in brackets', () => {
    const text = '{"a.b": {"c": "x"}}';
    expect(editJson(text, '["a.b"].c', 'y')).toBe('{"a.b": {"c": "y"}}');
  });

  it('refuses a missing path, naming the keys present', () => {
    let err: unknown;
    try {
      editJson(JSON.stringify(config), 'database.dbname', 'x');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigEditError);
    expect((err as Error).message).toContain('database.dbname');
    expect((err as Error).message).toContain('name, port, hosts');
  });

  it('refuses a value that is not a string, and invalid JSON with its position', () => {
    expect(() => editJson(JSON.stringify(config), 'database.port', 'x')).toThrow(/number, not a string/);
    expect(() => editJson(JSON.stringify(config), 'database', 'x')).toThrow(/object, not a string/);
    expect(() => editJson('{\n  "a": tru\n}', 'a', 'x')).toThrow(/line 2, column 8/);
  });
  it('accepts what editors accept: trailing commas, a byte-order mark; a repeated key is edited everywhere', () => {
    const text = '\ufeff{\n  "db": "core", // the old one\n  "db": "core",\n  "list": [1, 2,],\n}\n';
    const out = editJson(text, 'db', 'user');
    expect(out).toBe('\ufeff{\n  "db": "user", // the old one\n  "db": "user",\n  "list": [1, 2,],\n}\n');
    expect(readJson(out, 'db')).toBe('user');
    expect(readJson(text, 'list')).toBe('[1, 2,]');
    expect(() => editJson('', 'db', 'x')).toThrow(/not valid JSON/);
  });
});
