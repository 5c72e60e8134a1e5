import { afterAll, describe, expect, it } from 'vitest';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { pg15, query, servers } from '../harness/servers.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { findPgDump } from '../../src/retention/pg-dump.js';

const fixtures: SplitFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

const DAY = 86_400_000;

async function archivedFixture(source: string): Promise<{ fx: SplitFixture; later: string }> {
  const fx = await splitFixture({
    source,
    // A third of the sample: still an archive of every table, of more than a few kilobytes.
    scale: 0.3,
    edit: (doc) => {
      doc.retention = { days: 7, archive: 'backups' };
    },
  });
  fixtures.push(fx);
  const applied = await fx.cli('apply', '--yes', '--jobs', '2');
  expect(applied.code, applied.stderr).toBe(0);
  const verified = await fx.cli('verify', '--checksums');
  expect(verified.code, verified.stdout).toBe(0);
  return { fx, later: new Date(Date.now() + 8 * DAY).toISOString() };
}

async function exists(fx: SplitFixture): Promise<boolean> {
  return (await query(fx.sourceServer, `SELECT 1 FROM pg_database WHERE datname = $1`, [fx.sourceDb])).length === 1;
}

describe('retention prune with retention.archive', () => {
  it('writes a pg_dump -Fc archive with pg_dump 15 of a 15 source, then drops it', async () => {
    const { fx, later } = await archivedFixture(pg15());
    const r = await fx.cli('retention', 'prune', '--yes', '--json', '--now', later);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { backups: Array<{ action: string; archive: string | null }> };
    expect(report.backups).toMatchObject([{ action: 'dropped' }]);
    const files = await readdir(join(fx.dir, 'backups'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(new RegExp(`^${fx.sourceDb}-\\d{8}T\\d{6}Z\\.dump$`));
    const file = join(fx.dir, 'backups', files[0]!);
    expect(report.backups[0]!.archive).toBe(file);
    expect((await stat(file)).size).toBeGreaterThan(10_000);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const toc = execFileSync('/usr/lib/postgresql/15/bin/pg_restore', ['-l', file], { encoding: 'utf8' });
    expect(toc).toMatch(/TABLE DATA public device_events/);
    expect(toc).toMatch(/TABLE DATA public typeorm_metadata/);
    expect(await exists(fx)).toBe(false);
    const listed = JSON.parse((await fx.cli('retention', 'list', '--json')).stdout) as Array<{ state: string; archive: string }>;
    expect(listed).toMatchObject([{ state: 'pruned', archive: file }]);
    // Pruned: nothing left to drop, and no way back.
    const again = await fx.cli('retention', 'prune', '--yes', '--now', later);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already pruned');
    const rb = await fx.cli('rollback', '--yes');
    expect(rb.code).toBe(2);
    expect(rb.stderr).toContain('was dropped by `retention prune`');
  });

  it('on an 18 source drops nothing unless a pg_dump 18 or newer exists or --no-archive is given', async () => {
    const { fx, later } = await archivedFixture(servers().main);
    const { found } = await findPgDump(18);
    const r = await fx.cli('retention', 'prune', '--yes', '--now', later);
    if (found) {
      expect(r.code, r.stderr).toBe(0);
      expect((await readdir(join(fx.dir, 'backups'))).length).toBe(1);
      expect(await exists(fx)).toBe(false);
      return;
    }
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('needs pg_dump 18 or newer');
    expect(r.stderr).toContain('--no-archive');
    expect(await exists(fx)).toBe(true);
    // Without the archive, the rows only the backup holds (the ignored migrations table) would be lost: refused.
    const forced = await fx.cli('retention', 'prune', '--yes', '--no-archive', '--now', later);
    expect(forced.code).toBe(1);
    expect(forced.stdout).toMatch(/refused\s+.*: it still holds rows that exist nowhere else: .*public\.migrations \(\d+ rows, not moved by the split\)/);
    expect(await exists(fx)).toBe(true);
  });
});
