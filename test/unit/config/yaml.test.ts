import { describe, expect, it } from 'vitest';
import { editYaml, readYaml } from '../../../src/config/yaml.js';
import { ConfigEditError } from '../../../src/config/config-edit-error.js';

const VALUES = `# Helm values of the user service
replicaCount: 2

database:
  host: postgres   # the shared server
  port: 5432
  name: cloudphone_core
  url: "postgres://svc:pa%40ss@postgres:5432/cloudphone_core?sslmode=disable"
  user: 'svc'
extra: [a, b]
replicas:
  - name: r1
    database: cloudphone_core
`;

describe('editYaml', () => {
  it('replaces a nested plain scalar, keeping every other byte', () => {
    const out = editYaml(VALUES, 'database.name', 'cloudphone_user');
    expect(out).toBe(VALUES.replace('name: cloudphone_core', 'name: cloudphone_user'));
  });

  it('keeps the double or single quoting of the value and the comments', () => {
    const out = editYaml(VALUES, 'database.url', 'postgres://svc:pa%40ss@postgres:5432/cloudphone_user?sslmode=disable');
    expect(out).toContain('  url: "postgres://svc:pa%40ss@postgres:5432/cloudphone_user?sslmode=disable"\n');
    expect(out).toContain('# the shared server');
    expect(editYaml(VALUES, 'database.user', "o'k")).toContain("  user: 'o''k'\n");
  });

  it('indexes lists by number, as 0 or [0]', () => {
    const a = editYaml(VALUES, 'replicas.0.database', 'x');
    const b = editYaml(VALUES, 'replicas[0].database', 'x');
    expect(a).toBe(b);
    expect(a).toContain('    database: x\n');
    expect(readYaml(a, 'replicas.0.database')).toBe('x');
  });

  it('quotes a value that would not stay a string when plain', () => {
    const out = editYaml(VALUES, 'database.name', '123');
    expect(out).toContain('  name: "123"\n');
    expect(readYaml(out, 'database.name')).toBe('123');
    const colon = editYaml(VALUES, 'database.name', 'a: b');
    expect(readYaml(colon, 'database.name')).toBe('a: b');
  });

  it('edits every document of a multi-document file that has the path', () => {
    const text = 'db:\n  name: core\n---\nother: 1\n---\ndb:\n  name: core # second\n';
    expect(editYaml(text, 'db.name', 'user')).toBe('db:\n  name: user\n---\nother: 1\n---\ndb:\n  name: user # second\n');
  });

  it('handles unicode and CRLF', () => {
    const text = 'db:\r\n  name: cœur\r\n  note: café\r\n';
    expect(editYaml(text, 'db.name', 'ユーザー')).toBe('db:\r\n  name: ユーザー\r\n  note: café\r\n');
  });

  it('rewrites a block scalar through the Document API', () => {
    const text = 'db:\n  name: |\n    core\n  port: 5432\n';
    const out = editYaml(text, 'db.name', 'user');
    expect(readYaml(out, 'db.name')).toBe('user');
    expect(readYaml(out, 'db.port')).toBe('5432');
  });

  it('fills an empty value', () => {
    const out = editYaml('# c\ndb:\n  name:\n  port: 5432\n', 'db.name', 'user');
    expect(readYaml(out, 'db.name')).toBe('user');
    expect(readYaml(out, 'db.port')).toBe('5432');
    expect(out).toBe('# c\ndb:\n  name: user\n  port: 5432\n');
  });

  it('refuses a missing path, saying which keys exist there', () => {
    let err: unknown;
    try {
      editYaml(VALUES, 'database.dbname', 'x');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigEditError);
    expect((err as Error).message).toContain('database.dbname');
    expect((err as Error).message).toContain('host, port, name, url, user');
    expect(() => editYaml(VALUES, 'nope.name', 'x')).toThrow(/top level has no "nope"/);
  });

  it('refuses a mapping, an alias and invalid YAML', () => {
    expect(() => editYaml(VALUES, 'database', 'x')).toThrow(/mapping/);
    expect(() => editYaml('a: &x core\nb: *x\n', 'b', 'y')).toThrow(/alias/);
    expect(() => editYaml('a: [1, 2\n', 'a', 'y')).toThrow(ConfigEditError);
  });
});
