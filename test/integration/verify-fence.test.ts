import { afterEach, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import { verifySplit } from '../../src/verify/verify.js';
import { FENCE_SCHEMA } from '../../src/steps/fence-source.js';
import { buildSplit, type Split } from './verify-fixture.js';

let split: Split | null = null;
afterEach(async () => {
  await split?.cleanup();
  split = null;
});

describe('verify: fence', () => {
  it('fails a table whose fence trigger is in place and enabled but lets the write through, and says so', async () => {
    split = await buildSplit({ sourceServer: servers().main, targetServer: servers().main });
    const s = split;
    // The trigger stays, enabled; its function no longer raises: writes to every moved table would be lost.
    await query(s.sourceUrl, `CREATE OR REPLACE FUNCTION ${FENCE_SCHEMA}."fence"() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$`);
    const r = await verifySplit({ plan: s.plan, pools: s.pools, servers: s.servers, rolePasswords: s.passwords, checksums: false, health: false, baseDir: s.baseDir });
    const fence = r.checks.filter((c) => c.kind === 'fence');
    expect(fence.length).toBeGreaterThan(0);
    expect(fence.filter((c) => c.ok)).toEqual([]);
    expect(fence.find((c) => c.table === 'public.users')?.detail).toMatch(/write/);
    expect(r.ok).toBe(false);
  });
});
