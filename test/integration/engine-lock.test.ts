import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servers, query, uniquePrefix, createDatabase } from '../harness/servers.js';
import { SplitLock } from '../../src/engine/lock.js';
import { LockedError, ExitCode } from '../../src/errors.js';

const prefix = uniquePrefix();
let controlUrl: string;

beforeAll(async () => {
  controlUrl = await createDatabase(servers().main, `${prefix}control`);
});
afterAll(async () => {
  await query(servers().main, `DROP DATABASE IF EXISTS "${prefix}control" WITH (FORCE)`);
});

describe('SplitLock', () => {
  it('refuses a second apply of the same split and names the holder', async () => {
    const first = await SplitLock.acquire(controlUrl, 'cloudphone', 'cloudphone-split apply first');
    try {
      const err = await SplitLock.acquire(controlUrl, 'cloudphone').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LockedError);
      const locked = err as LockedError;
      expect(locked.exitCode).toBe(ExitCode.locked);
      const [holder] = await query<{ pid: number }>(
        controlUrl,
        `SELECT pid FROM pg_stat_activity WHERE application_name = 'cloudphone-split apply first'`,
      );
      expect(holder).toBeDefined();
      expect(locked.message).toContain(`backend pid ${holder!.pid}`);
      expect(locked.message).toContain('application "cloudphone-split apply first"');
      expect(locked.message).toMatch(/client 127\.0\.0\.1/);
      expect(locked.message).toMatch(/connected since \d{4}-/);
      expect(locked.hint).toContain(`pg_terminate_backend(${holder!.pid})`);
    } finally {
      await first.release();
    }
  });

  it('locks each split separately, and a released lock can be taken again', async () => {
    const a = await SplitLock.acquire(controlUrl, 'split-a');
    const b = await SplitLock.acquire(controlUrl, 'split-b');
    expect(a.held && b.held).toBe(true);
    await a.release();
    expect(a.held).toBe(false);
    const again = await SplitLock.acquire(controlUrl, 'split-a');
    await Promise.all([again.release(), b.release()]);
    await a.release(); // twice is harmless
  });

  it('is freed when the holding session dies (a killed apply leaves no stale lock)', async () => {
    const lock = await SplitLock.acquire(controlUrl, 'killed', 'cloudphone-split apply killed');
    await query(controlUrl, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'cloudphone-split apply killed'`);
    for (let i = 0; i < 50 && lock.held; i++) await new Promise((r) => setTimeout(r, 20));
    expect(lock.held).toBe(false);
    expect(() => lock.assertHeld()).toThrow(/lost the lock/);
    const next = await SplitLock.acquire(controlUrl, 'killed');
    await next.release();
    await lock.release();
  });
});
