import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createDatabase, pg15, pg18Client, query, servers } from '../harness/servers.js';
import { runCli } from './helpers/cli.js';
import { dropTemplate, sampleTemplate, splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { findPgDump } from '../../src/retention/pg-dump.js';

const fixtures: SplitFixture[] = [];
// A third of the sample: still an archive of every table, of more than a few kilobytes.
const SCALE = 0.3;
/** The sample on the 18 server, loaded once: both 18 cases clone it. */
let template18 = '';
beforeAll(async () => {
  template18 = await sampleTemplate(servers().main, SCALE);
});
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
  if (template18) await dropTemplate(servers().main, template18);
});

const DAY = 86_400_000;

async function archivedFixture(source: string): Promise<{ fx: SplitFixture; later: string }> {
  const fx = await splitFixture({
    source,
    scale: SCALE,
    ...(source === servers().main ? { template: template18 } : {}),
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

/** Rows of every table of the database, by `schema.table`. */
async function tableCounts(url: string): Promise<Map<string, number>> {
  const tables = await query<{ t: string }>(url, `SELECT format('%I.%I', schemaname, relname) AS t FROM pg_stat_user_tables ORDER BY 1`);
  const out = new Map<string, number>();
  for (const { t } of tables) out.set(t, Number((await query<{ n: string }>(url, `SELECT count(*) AS n FROM ${t}`))[0]!.n));
  return out;
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

  it('writes the archive of an 18 source with pg_dump 18, readable by pg_restore 18 with every row', async () => {
    const { fx, later } = await archivedFixture(servers().main);
    const bin = pg18Client();
    const counts = await tableCounts(fx.sourceUrl);
    const env = { ...fx.env, PATH: `${bin}:${fx.env.PATH ?? ''}` };
    const r = await runCli(['retention', 'prune', '-m', fx.manifestFile, '--yes', '--json', '--now', later], env);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { backups: Array<{ action: string; archive: string | null }> };
    expect(report.backups).toMatchObject([{ action: 'dropped' }]);
    const file = report.backups[0]!.archive!;
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const toc = execFileSync(join(bin, 'pg_restore'), ['-l', file], { encoding: 'utf8' });
    expect(toc).toMatch(/Dumped from database version: 18\./);
    expect(toc).toMatch(/Dumped by pg_dump version: 18\./);
    expect(await exists(fx)).toBe(false);
    // Restored into a new database, the archive gives back every table with every row.
    const restored = `${fx.sourceDb}_restored`;
    const restoredUrl = await createDatabase(servers().main, restored);
    try {
      execFileSync(join(bin, 'pg_restore'), ['--no-owner', '--no-privileges', '--exit-on-error', '-d', restoredUrl, file], { encoding: 'utf8' });
      expect(await tableCounts(restoredUrl)).toEqual(counts);
      expect(counts.get('public.migrations')).toBeGreaterThan(0);
    } finally {
      await query(servers().main, `DROP DATABASE IF EXISTS "${restored}" WITH (FORCE)`);
    }
  });

  it('on an 18 source drops nothing while no pg_dump 18 or newer is found, unless --no-archive is given', async () => {
    const { fx, later } = await archivedFixture(servers().main);
    // The CLI's PATH holds no client 18 (the harness's is not on it): the refusal is what a machine with pg_dump 15 only gets.
    const { found, seen } = await findPgDump(18, fx.env);
    expect(found, `this machine has pg_dump ${found?.version} at ${found?.path} on the CLI's PATH or in /usr/lib/postgresql: the refusal cannot be shown here`).toBeNull();
    expect(seen.length).toBeGreaterThan(0);
    const r = await fx.cli('retention', 'prune', '--yes', '--now', later);
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
