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
    const m2 = parseManifest(base('postgres://u:${PW}@h/db', '${A_PW:-x}'), 'm.yaml');
    expect(literalSecretProblems(m2, 'm.yaml')).toEqual([]);
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
});
