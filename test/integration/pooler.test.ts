import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, servers } from '../harness/servers.js';
import { Pools } from '../../src/pg/pools.js';
import { sharesSessions } from '../../src/pg/pooler.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { startPgBouncer, type PgBouncer } from './helpers/pgbouncer.js';

/**
 * A split needs one server session per connection. Through PgBouncer in transaction
 * or statement mode it would export a snapshot nobody can use and hold locks in sessions
 * it does not own: preflight detects such a pooler and refuses before anything changes.
 */
const bouncers: PgBouncer[] = [];
const fixtures: SplitFixture[] = [];
let transaction: PgBouncer;
let statement: PgBouncer;
let session: PgBouncer;

beforeAll(async () => {
  [transaction, statement, session] = await Promise.all([
    startPgBouncer(servers().main, 'transaction'),
    startPgBouncer(servers().main, 'statement'),
    startPgBouncer(servers().main, 'session'),
  ]);
  bouncers.push(transaction, statement, session);
});
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
  await Promise.all(bouncers.map((b) => b.stop()));
});

describe('a connection pooler in front of a server', () => {
  it('transaction and statement pooling are told apart from sessions', async () => {
    const pools = new Pools({ direct: servers().main, transaction: transaction.url, statement: statement.url, session: session.url });
    try {
      expect(await sharesSessions(() => pools.client('direct'))).toBe(false);
      expect(await sharesSessions(() => pools.client('session'))).toBe(false);
      expect(await sharesSessions(() => pools.client('transaction'))).toBe(true);
      expect(await sharesSessions(() => pools.client('statement'))).toBe(true);
    } finally {
      await pools.end();
    }
  });

  it('apply through a transaction pooler: preflight refuses with the fix (exit 3), nothing is created', async () => {
    const fx = await splitFixture({ source: servers().main, targets: transaction.url, scale: 0.1 });
    fixtures.push(fx);
    await fx.plan();
    const r = await fx.cli('apply', fx.planFile, '--yes');
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain('server target');
    expect(r.stderr).toContain('pooler in transaction or statement mode');
    expect(r.stderr).toContain('pool_mode=session');
    const made = await query(servers().main, `SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname NOT LIKE '%core' AND datname NOT LIKE '%control'`, [`${fx.prefix}%`]);
    expect(made).toEqual([]);
    const fence = await query(fx.sourceUrl, `SELECT 1 FROM pg_trigger WHERE tgname = 'cloudphone_split_fence'`);
    expect(fence).toEqual([]);
  });

  it('apply through a session pooler works as it does directly', async () => {
    const fx = await splitFixture({ source: servers().main, targets: session.url, scale: 0.1 });
    fixtures.push(fx);
    await fx.plan();
    const r = await fx.cli('apply', fx.planFile, '--yes');
    expect(r.code, r.stderr).toBe(0);
    const v = await fx.cli('verify', '--checksums', '--json');
    const checks = (JSON.parse(v.stdout) as { checks: Array<{ kind: string; ok: boolean; detail: string }> }).checks;
    // This bouncer logs every client in as its own superuser (auth_type = any), so the
    // isolation check, which connects as each service role, sees through it; every other check must pass.
    const failed = checks.filter((c) => !c.ok && c.kind !== 'isolation');
    expect(failed, failed.map((c) => c.detail).join('\n')).toEqual([]);
    expect(checks.filter((c) => c.kind === 'checksum' && c.ok).length).toBeGreaterThan(20);
  });
});
