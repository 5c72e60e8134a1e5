import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../../src/manifest/load.js';
import { literalSecretProblems } from '../../../src/manifest/literal-secrets.js';

const base = (url: string, password: string) => `version: 1
name: s
source:
  url: ${url}
services:
  a:
    database: a_db
    role:
      name: a_svc
      password: ${password}
`;

describe('literal secrets in a manifest', () => {
  it('accepts ${VAR} URLs and passwords', () => {
    const m = parseManifest(base('${CORE_URL}', '${A_PW}'), 'm.yaml');
    expect(literalSecretProblems(m, 'm.yaml')).toEqual([]);
    const m2 = parseManifest(base('postgres://u:${PW}@h/db', '${A_PW}'), 'm.yaml');
    expect(literalSecretProblems(m2, 'm.yaml')).toEqual([]);
    const m4 = parseManifest(base('"host=h dbname=db password=${PW}"', '${A_PW}'), 'm.yaml');
    expect(literalSecretProblems(m4, 'm.yaml')).toEqual([]);
    const m5 = parseManifest(base('${CORE_URL:-postgres://u@h/db}', '${A_PW}'), 'm.yaml');
    expect(literalSecretProblems(m5, 'm.yaml')).toEqual([]);
    const m3 = parseManifest(base('postgres://u@h/db', '${A_PW}'), 'm.yaml');
    expect(literalSecretProblems(m3, 'm.yaml')).toEqual([]);
  });
  it('reports a password written in a URL or a role, never echoing it', () => {
    const m = parseManifest(base('postgres://u:hunter22@h/db', 'hunter33'), 'm.yaml');
    const problems = literalSecretProblems(m, 'm.yaml');
    expect(problems.map((p) => p.path)).toEqual(['source.url', 'services.a.role.password']);
    expect(JSON.stringify(problems)).not.toMatch(/hunter/);
    expect(problems[1]!.fix).toContain('${A_DB_PASSWORD}');
  });
  it('reports a password given a default, saying why', () => {
    for (const [url, pw] of [
      ['postgres://u:${PW:-hunter22}@h/db', '${A_PW}'],
      ['${CORE_URL:-postgres://u:hunter22@h/db}', '${A_PW}'],
      ['"host=h password=${PW:-hunter22}"', '${A_PW}'],
      ['"postgres://u@h/db?password=${PW:-hunter22}"', '${A_PW}'],
    ]) {
      const problems = literalSecretProblems(parseManifest(base(url!, pw!), 'm.yaml'), 'm.yaml');
      expect(problems.map((p) => p.path)).toEqual(['source.url']);
      expect(problems[0]!.message).toContain('default');
      expect(JSON.stringify(problems)).not.toMatch(/hunter/);
    }
    const role = literalSecretProblems(parseManifest(base('${CORE_URL}', '${A_PW:-hunter33}'), 'm.yaml'), 'm.yaml');
    expect(role.map((p) => p.path)).toEqual(['services.a.role.password']);
    expect(role[0]!.message).toContain('default');
    expect(role[0]!.fix).toContain('no default');
  });
  it('reports a password written as text in a key=value string or a URL query', () => {
    for (const url of ['"host=h dbname=db password=hunter22"', '"postgres://u@h/db?sslmode=disable&password=hunter22"']) {
      const problems = literalSecretProblems(parseManifest(base(url, '${A_PW}'), 'm.yaml'), 'm.yaml');
      expect(problems.map((p) => p.path)).toEqual(['source.url']);
      expect(problems[0]!.message).toContain('as text');
    }
  });
});
