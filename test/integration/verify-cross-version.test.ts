import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySplit, type VerifyResult } from '../../src/verify/verify.js';
import { pg15, query, servers } from '../harness/servers.js';
import { buildSplit, type Split } from './verify-fixture.js';

/** Source on PostgreSQL 15, targets on 18: hashes are not portable, the pinned text form must agree. */
describe('verifySplit from PostgreSQL 15 to 18', () => {
  let s: Split;
  beforeAll(async () => {
    s = await buildSplit({ sourceServer: pg15(), targetServer: servers().main });
    await query(s.targetServer, `ALTER DATABASE "${s.usersDb}" SET TimeZone = 'Pacific/Chatham'`);
    await query(s.targetServer, `ALTER DATABASE "${s.usersDb}" SET DateStyle = 'German, DMY'`);
    await query(s.targetServer, `ALTER DATABASE "${s.usersDb}" SET extra_float_digits = 0`);
    await query(s.targetServer, `ALTER DATABASE "${s.usersDb}" SET bytea_output = 'escape'`);
    await query(pg15(), `ALTER DATABASE "${s.sourceDb}" SET IntervalStyle = 'iso_8601'`);
  });
  afterAll(async () => {
    await s?.cleanup();
  });

  const run = (): Promise<VerifyResult> =>
    verifySplit({
      plan: s.plan,
      pools: s.pools,
      servers: s.servers,
      rolePasswords: s.passwords,
      checksums: true,
      health: false,
      baseDir: s.baseDir,
    });

  it('agrees on equal data with the text fallback, and schema parity holds across versions', async () => {
    const r = await run();
    expect(r.checks.filter((c) => !c.ok)).toEqual([]);
    const checksums = r.checks.filter((c) => c.kind === 'checksum');
    expect(checksums).toHaveLength(4);
    for (const c of checksums) expect(c.detail).toMatch(/text hash \(versions differ/);
    expect(r.checks.filter((c) => c.kind === 'schema' && c.ok)).toHaveLength(4);
  });

  it('finds a changed value and a deleted row across versions', async () => {
    await query(s.usersUrl, `UPDATE users SET balance = 0.5 WHERE id = 77`);
    await query(s.usersUrl, `DELETE FROM settings WHERE code = 'k00003'`);
    const r = await run();
    const users = r.checks.find((c) => c.kind === 'checksum' && c.table === 'public.users')!;
    expect(users.ok).toBe(false);
    expect(users.keys).toEqual([{ id: '77' }]);
    const settings = r.checks.find((c) => c.kind === 'checksum' && c.table === 'public.settings')!;
    expect(settings.keys).toEqual([{ code: 'k00003' }]);
    expect(settings.detail).toContain('code=k00003 (missing in target)');
    expect(r.checks.find((c) => c.kind === 'rowcount' && c.table === 'public.settings')?.ok).toBe(false);
  });
});
