import { afterAll, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import { keepServices, splitFixture, type SplitFixture } from './helpers/split-fixture.js';

const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

interface VerifyJson {
  checks: Array<{ kind: string; table?: string; ok: boolean; detail: string }>;
}

/**
 * verify compared tables, views and sequences, not the types the tables use: a domain
 * whose CHECK was dropped in a target (AdventureWorks' "Phone") passed, and the service
 * then stored what the source refuses. Comments of constraints went unseen too.
 */
describe('verify of the types a service database got', () => {
  it('compares domains (CHECK, default, comment) and enums (labels in order) with the source, and constraint comments', async () => {
    const fx = await splitFixture({ source: servers().main, scale: 0.05, edit: (doc) => keepServices(doc, ['user-service']) });
    fixtures.push(fx);
    await fx.plan();
    const a = await fx.cli('apply', fx.planFile, '--yes');
    expect(a.code, a.stderr + a.stdout).toBe(0);
    const passed = await fx.cli('verify', '--json');
    expect(passed.code, passed.stdout).toBe(0);
    const checks = (JSON.parse(passed.stdout) as VerifyJson).checks;
    expect(checks.find((c) => c.table === 'public.email_address')).toMatchObject({ kind: 'schema', ok: true, detail: 'domain public.email_address matches' });
    expect(checks.find((c) => c.table === 'public.user_status')).toMatchObject({ kind: 'schema', ok: true });

    const target = fx.services[0]!.url;
    await query(
      target,
      `ALTER DOMAIN email_address DROP CONSTRAINT email_address_check;
       ALTER TYPE user_status ADD VALUE 'banned';
       COMMENT ON CONSTRAINT users_pkey ON users IS 'changed';`,
    );
    // Accepted now, where the source refuses it.
    await query(target, `SELECT 'not an address'::email_address`);
    const failed = await fx.cli('verify', '--json');
    expect(failed.code, failed.stdout).toBe(1);
    const bad = (JSON.parse(failed.stdout) as VerifyJson).checks.filter((c) => !c.ok);
    expect(bad.map((c) => `${c.kind} ${c.table}`).sort()).toEqual(['schema public.email_address', 'schema public.user_status', 'schema public.users']);
    expect(bad.find((c) => c.table === 'public.email_address')!.detail).toMatch(/^domain public\.email_address differs: source CREATE DOMAIN .*"email_address_check" CHECK .* target CREATE DOMAIN "public"."email_address" AS "public"."citext"$/);
    expect(bad.find((c) => c.table === 'public.user_status')!.detail).toContain("'banned'");
    expect(bad.find((c) => c.table === 'public.users')!.detail).toContain('constraint users_pkey comment differs: source NULL target changed');

    await query(target, `ALTER DOMAIN email_address ADD CONSTRAINT email_address_check CHECK (VALUE ~ '^[^@[:space:]]+@[^@[:space:]]+[.][^@[:space:]]+$'); COMMENT ON DOMAIN email_address IS NULL`);
    const comment = await fx.cli('verify', '--json');
    expect((JSON.parse(comment.stdout) as VerifyJson).checks.find((c) => c.table === 'public.email_address')!.detail).toBe(
      'domain public.email_address comment differs: source "An e-mail address, compared case-insensitively" target null',
    );
  });
});
