import { describe, expect, it } from 'vitest';
import type { Catalog } from '../../../src/catalog/model.js';
import { CatalogBuilder } from '../manifest/catalog-builder.js';
import { planFrom } from './plan-from.js';

const manifest = (retire: boolean) => `version: 1
name: pub
source: { url: "\${SRC}", retire: ${retire} }
services:
  ci:
    database: ci_db
    role: { name: ci_svc, password: "\${CI_PW}" }
    tables: [builds]
  web:
    database: web_db
    tables: [projects]
ignore: [audit]
`;

function catalog(): Catalog {
  const cat = new CatalogBuilder(['public']).table('builds', { columns: ['id'] }).table('projects', { columns: ['id'] }).table('audit', { columns: ['id'] }).build();
  const publicRead = { grants: [{ grantee: null, privileges: ['SELECT'], grantable: [] }], revokedFromPublic: [] };
  for (const t of cat.tables) t.privileges = publicRead;
  return cat;
}

describe('moved tables granted to PUBLIC in a source that stays in use', () => {
  it('are named once, with the services whose roles keep reaching them and the fix', () => {
    const warnings = planFrom(manifest(false), catalog()).warnings.filter((w) => w.startsWith('granted to PUBLIC'));
    expect(warnings).toEqual([
      'granted to PUBLIC in the source, which stays in use: public.builds (SELECT), public.projects (SELECT): every role keeps that access to the backup there, ' +
        "the new roles of ci included, and verify's isolation check fails for them until it is revoked (REVOKE ALL ON … FROM PUBLIC in the source after apply; what still needs them there then needs a grant of its own)",
    ]);
  });

  it('are no concern when the source retires (no role connects to it any more)', () => {
    expect(planFrom(manifest(true), catalog()).warnings.filter((w) => w.startsWith('granted to PUBLIC'))).toEqual([]);
  });
});
