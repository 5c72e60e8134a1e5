import { describe, expect, it } from 'vitest';
import { BadInputError } from '../../../src/errors.js';
import { expand, expandableFields, missingVariables, parseTemplate, secretsOf } from '../../../src/manifest/expand.js';
import { parseManifest } from '../../../src/manifest/load.js';

describe('expand', () => {
  const env = { HOST: 'db.internal', EMPTY: '', PORT: '5433' };

  it('expands ${VAR} and ${VAR:-default}', () => {
    expect(expand('postgres://${HOST}:${PORT}/x', env)).toBe('postgres://db.internal:5433/x');
    expect(expand('${MISSING:-fallback}/${HOST:-no}', env)).toBe('fallback/db.internal');
    expect(expand('${EMPTY:-used when empty}', env)).toBe('used when empty');
    expect(expand('[${EMPTY}]', env)).toBe('[]');
    expect(expand('${MISSING:-}', env)).toBe('');
  });

  it('leaves $ and $$ alone', () => {
    expect(expand('pa$$word$', env)).toBe('pa$$word$');
    expect(expand('$HOST and $${HOST}', env)).toBe('$HOST and $db.internal');
  });

  it('throws BadInputError naming the key path and the variable', () => {
    const err = (() => {
      try {
        expand('postgres://${NOPE}/x', env, 'source.url');
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as BadInputError).message).toBe('source.url: variable NOPE is not set');
    expect((err as BadInputError).hint).toBe('set NOPE in the environment or write ${NOPE:-default}');
  });

  it('rejects bad syntax', () => {
    expect(() => expand('${HOST', env, 'x')).toThrow(/x: `\$\{` is not closed/);
    expect(() => expand('${9LIVES}', env)).toThrow(/bad variable name/);
    expect(() => expand('${HOST:?required}', env)).toThrow(/unsupported variable syntax/);
    expect(parseTemplate('a${B:-c}d')).toEqual([{ text: 'a' }, { variable: 'B', fallback: 'c' }, { text: 'd' }]);
  });
});

const MANIFEST = `version: 1
name: cloudphone
source: { url: "postgres://admin:\${CORE_PASSWORD}@db:5432/cloudphone_core" }
control: { url: "\${SPLIT_CONTROL_URL}" }
servers: { billing-pg: "\${BILLING_PG_URL:-postgres://billing@localhost/postgres}" }
retention: { archive: "\${ARCHIVE_DIR}" }
services:
  user-service:
    database: cloudphone_user
    role: { name: cloudphone_user_svc, password: "\${USER_DB_PASSWORD}" }
    tables: [users]
    health: "http://\${HEALTH_HOST:-localhost}:30001/health"
    restart: "pm2 restart \${NOT_EXPANDED_BY_US}"
    config: [{ file: "\${CONFIG_ROOT}/.env", key: DB_DATABASE }]
  billing-service:
    database: cloudphone_billing
    server: billing-pg
    role: { name: cloudphone_billing_svc, password: literal-pw-123 }
    tables: [orders]
`;

describe('missingVariables', () => {
  it('lists every unset variable without a default, with its key path', () => {
    const m = parseManifest(MANIFEST, 'plans/split.yaml');
    const problems = missingVariables(m, { CORE_PASSWORD: 'x', CONFIG_ROOT: '.' }, 'plans/split.yaml');
    expect(problems.map((p) => [p.path, p.message])).toEqual([
      ['control.url', 'variable SPLIT_CONTROL_URL is not set'],
      ['retention.archive', 'variable ARCHIVE_DIR is not set'],
      ['services.user-service.role.password', 'variable USER_DB_PASSWORD is not set'],
    ]);
    // Connection strings and passwords have no defaults: they would be stored as text.
    expect(problems[0]!.fix).toBe('set SPLIT_CONTROL_URL in the environment');
    expect(problems[1]!.fix).toBe('set ARCHIVE_DIR in the environment or write ${ARCHIVE_DIR:-default}');
    expect(problems.every((p) => p.file === 'plans/split.yaml')).toBe(true);
  });

  it('is empty when everything is set, and never looks at restart commands', () => {
    const m = parseManifest(MANIFEST, 'm.yaml');
    const env = { CORE_PASSWORD: 'a', SPLIT_CONTROL_URL: 'b', ARCHIVE_DIR: 'c', USER_DB_PASSWORD: 'd', CONFIG_ROOT: 'e' };
    expect(missingVariables(m, env, 'm.yaml')).toEqual([]);
    expect(expandableFields(m).map((f) => f.path)).not.toContain('services.user-service.restart');
  });
});

describe('secretsOf', () => {
  it('finds passwords in URLs (also through variables) and role passwords', () => {
    const m = parseManifest(MANIFEST, 'm.yaml');
    const env = {
      CORE_PASSWORD: 'p@ss/w:rd',
      SPLIT_CONTROL_URL: 'postgres://ctl:ctl%20secret@ctl-host/cloudphone_split',
      USER_DB_PASSWORD: 'user-secret-1',
    };
    const secrets = secretsOf(m, env);
    expect(secrets).toEqual(expect.arrayContaining(['p@ss/w:rd', 'ctl secret', 'ctl%20secret', 'user-secret-1', 'literal-pw-123']));
    expect(secrets).not.toContain('billing');
    expect(secrets).not.toContain('');
  });

  it('finds a password given as a URL parameter or in key=value form', () => {
    const m = parseManifest('version: 1\nname: x\nsource: { url: "${A}" }\ncontrol: { url: "${B}" }\nservices: { s: { database: s } }\n', 'm.yaml');
    const secrets = secretsOf(m, { A: 'postgres://u@h/db?password=qsecret&sslmode=require', B: "host=h user=u password='kv secret'" });
    expect(secrets).toEqual(expect.arrayContaining(['qsecret', 'kv secret']));
  });

  it('never stores expanded values in the manifest', () => {
    const m = parseManifest(MANIFEST, 'm.yaml');
    const before = JSON.stringify(m);
    secretsOf(m, { CORE_PASSWORD: 'zzsecretzz', USER_DB_PASSWORD: 'yysecretyy' });
    missingVariables(m, { CORE_PASSWORD: 'zzsecretzz' }, 'm.yaml');
    expect(JSON.stringify(m)).toBe(before);
    expect(before).not.toContain('zzsecretzz');
  });
});
