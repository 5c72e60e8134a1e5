import { describe, expect, it } from 'vitest';
import { CatalogBuilder } from '../manifest/catalog-builder.js';
import { planFrom } from './plan-from.js';
import { targetRowSecurityProblems } from '../../../src/steps/preflight-rls.js';

const manifest = (role: boolean) => `version: 1
name: rls
source: { url: "\${SOURCE_URL}" }
services:
  app-service:
    database: app
${role ? '    role: { name: app_svc, password: "${APP_PW}" }\n' : ''}    tables: [comments, posts]
`;

describe('a moved table with FORCE ROW LEVEL SECURITY (Supabase\'s way)', () => {
  it("warns that the service's role, its new owner, is bound by its policies; nothing without a role of its own", () => {
    const catalog = new CatalogBuilder().table('comments').table('posts').build();
    catalog.tables.find((t) => t.name === 'comments')!.forceRowSecurity = true;
    expect(planFrom(manifest(true), catalog).warnings).toContainEqual(
      'public.comments has FORCE ROW LEVEL SECURITY: in app, app_svc owns it, and the policies bind it as they bind every role ' +
        '(in the source the owner may have been a superuser, whom nothing binds): check that they let app_svc read and write what app-service needs, or give it BYPASSRLS',
    );
    expect(planFrom(manifest(false), catalog).warnings.join('\n')).not.toContain('FORCE ROW LEVEL SECURITY');
  });
});

describe('preflight: a target server whose new tables have FORCE ROW LEVEL SECURITY', () => {
  it('asks a tool role neither superuser nor BYPASSRLS for BYPASSRLS there, naming the tables; nothing for one that has it', () => {
    const catalog = new CatalogBuilder().table('comments').table('posts').build();
    const comments = catalog.tables.find((t) => t.name === 'comments')!;
    comments.rowSecurity = true;
    comments.forceRowSecurity = true;
    const plan = planFrom(manifest(true), catalog);
    const facts = { version: 180000, superuser: false, createdb: true, createrole: true, bypassrls: false, user: 'split_tool' };
    expect(targetRowSecurityProblems(plan, 'source', facts)).toEqual([
      'server source: public.comments (in app) has FORCE ROW LEVEL SECURITY, whose policies apply there to role split_tool too (it owns the new tables, or acts as their owner): ' +
        'foreign key checks, verify and replication would fail half way. Give the role BYPASSRLS on that server (as a superuser: ALTER ROLE "split_tool" BYPASSRLS), or run as a superuser',
    ]);
    expect(targetRowSecurityProblems(plan, 'source', { ...facts, bypassrls: true })).toEqual([]);
    expect(targetRowSecurityProblems(plan, 'source', { ...facts, superuser: true })).toEqual([]);
  });
});
