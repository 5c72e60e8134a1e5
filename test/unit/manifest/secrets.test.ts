import { describe, expect, it } from 'vitest';
import { expand, missingVariables, secretsOf } from '../../../src/manifest/expand.js';
import { parseManifest } from '../../../src/manifest/load.js';
import { resolveManifest } from '../../../src/manifest/resolve.js';
import { CatalogBuilder } from './catalog-builder.js';

const ENV = {
  CORE_PASSWORD: 'core-Secret-41',
  USER_DB_PASSWORD: 'user-Secret-42',
  SPLIT_CONTROL_URL: 'postgres://ctl:ctl-Secret-43@ctl-host/cloudphone_split',
  BILLING_PG_URL: 'postgres://b:billing-Secret-44@billing-host/postgres',
};

const GOOD = `version: 1
name: cloudphone
source: { url: "postgres://admin:\${CORE_PASSWORD}@db/cloudphone_core" }
control: { url: "\${SPLIT_CONTROL_URL}" }
servers: { billing-pg: "\${BILLING_PG_URL}" }
services:
  user-service:
    database: cloudphone_user
    role: { name: cloudphone_user_svc, password: "\${USER_DB_PASSWORD}" }
    tables: [users, "missing_*"]
    health: "http://\${NOT_SET}/health"
  billing-service:
    database: cloudphone_billing
    server: billing-pg
    role: { name: cloudphone_billing_svc, password: literal-Secret-45 }
    tables: [orders, users]
`;

/** Every text an error can show: message, hint, each problem. */
function texts(err: unknown): string {
  const e = err as Error & { hint?: string; problems?: unknown };
  return [e.message, e.hint ?? '', JSON.stringify(e.problems ?? [])].join('\n');
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

describe('secrets never appear in errors', () => {
  const manifest = parseManifest(GOOD, 'm.yaml');
  const secrets = secretsOf(manifest, ENV);

  it('knows every secret of the manifest', () => {
    expect(secrets).toEqual(expect.arrayContaining(['core-Secret-41', 'user-Secret-42', 'ctl-Secret-43', 'billing-Secret-44', 'literal-Secret-45']));
  });

  it('keeps them out of parse, variable, expansion and resolve errors', () => {
    const errors: string[] = [];
    // Structural problems next to secrets, and a YAML syntax error on the line of a literal password.
    errors.push(texts(caught(() => parseManifest(GOOD.replace('database: cloudphone_user', 'database: Bad-Name').replace('tables: [orders, users]', 'tables: orders'), 'm.yaml'))));
    errors.push(texts(caught(() => parseManifest(GOOD.replace('password: literal-Secret-45 }', 'password: literal-Secret-45 }}'), 'm.yaml'))));
    errors.push(texts(caught(() => parseManifest(GOOD.replace('literal-Secret-45', '"literal-Secret-45'), 'm.yaml'))));
    // Unset variables next to set ones.
    errors.push(JSON.stringify(missingVariables(manifest, ENV, 'm.yaml')));
    expect(missingVariables(manifest, ENV, 'm.yaml').map((p) => p.path)).toEqual(['services.user-service.health']);
    errors.push(texts(caught(() => expand(`${manifest.source.url}/\${NOT_SET}`, ENV, 'source.url'))));
    errors.push(texts(caught(() => expand(`${manifest.services[1]!.role!.password}\${BAD`, ENV, 'services.billing-service.role.password'))));
    // Resolve problems: a glob matching nothing and a table owned twice.
    const catalog = new CatalogBuilder().table('users').table('orders').build();
    errors.push(texts(caught(() => resolveManifest(manifest, catalog, 'm.yaml'))));

    expect(errors).toHaveLength(7);
    for (const text of errors) {
      expect(text.length).toBeGreaterThan(10);
      for (const s of secrets) expect(text).not.toContain(s);
    }
  });
});
