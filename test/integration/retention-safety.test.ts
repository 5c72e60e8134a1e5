import { afterAll, describe, expect, it } from 'vitest';
import { chmod, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pg15, query, servers } from '../harness/servers.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { runCli } from './helpers/cli.js';

const fixtures: SplitFixture[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const DAY = 86_400_000;
const PG15_BIN = '/usr/lib/postgresql/15/bin';

interface PruneJson {
  backups: Array<{ database: string; action: string; reason: string }>;
}

async function exists(fx: SplitFixture): Promise<boolean> {
  return (await query(fx.sourceServer, `SELECT 1 FROM pg_database WHERE datname = $1`, [fx.sourceDb])).length === 1;
}

async function applied(opts: Parameters<typeof splitFixture>[0]): Promise<{ fx: SplitFixture; later: string }> {
  const fx = await splitFixture({ scale: 0.25, ...opts });
  fixtures.push(fx);
  const r = await fx.cli('apply', '--yes', '--jobs', '2');
  expect(r.code, r.stderr).toBe(0);
  return { fx, later: new Date(Date.now() + 8 * DAY).toISOString() };
}

/** A pg_dump 15 that leaves the data of one table out of its archive (and the real pg_restore beside it). */
async function lossyPgDump(table: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cps-lossy-'));
  dirs.push(dir);
  const script = join(dir, 'pg_dump');
  await writeFile(
    script,
    `#!/bin/sh\nif [ "$1" = "--version" ]; then exec ${PG15_BIN}/pg_dump --version; fi\nexec ${PG15_BIN}/pg_dump --exclude-table-data=${table} "$@"\n`,
  );
  await chmod(script, 0o755);
  await symlink(`${PG15_BIN}/pg_restore`, join(dir, 'pg_restore'));
  return dir;
}

describe('retention prune drops a backup only when it can prove nothing is lost', () => {
  it('6a. only after a passing verify --checksums; an archive that lacks a table keeps the database; the archive is 0600', async () => {
    const { fx, later } = await applied({
      source: pg15(),
      edit: (doc) => {
        doc.retention = { days: 7, archive: 'backups' };
      },
    });
    // apply alone does not make the backup verified: an expired one is refused (exit 1, so that a nightly job shows it), not dropped.
    let r = await fx.cli('retention', 'prune', '--yes', '--json', '--now', later);
    expect(r.code, r.stderr).toBe(1);
    expect((JSON.parse(r.stdout) as PruneJson).backups).toMatchObject([{ action: 'refused', reason: expect.stringContaining('verify --checksums') }]);
    expect(await exists(fx)).toBe(true);

    // A failing checksum run leaves it unverified, a passing one verifies it.
    const device = fx.service('device');
    await query(device.url, `SET session_replication_role = replica; UPDATE devices SET name = name || '!' WHERE id = (SELECT min(id) FROM devices)`);
    expect((await fx.cli('verify', '--checksums')).code).toBe(1);
    r = await fx.cli('retention', 'prune', '--yes', '--now', later);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('no `verify --checksums` run passed');
    await query(device.url, `SET session_replication_role = replica; UPDATE devices SET name = left(name, length(name) - 1) WHERE id = (SELECT min(id) FROM devices)`);
    const verified = await fx.cli('verify', '--checksums');
    expect(verified.code, verified.stdout).toBe(0);

    // The archive is read back before the drop: one lacking the ignored table's rows keeps the database.
    const lossy = await lossyPgDump('public.migrations');
    r = await runCli(['retention', 'prune', '-m', fx.manifestFile, '--yes', '--now', later], { ...fx.env, PATH: `${lossy}:${fx.env.PATH ?? ''}` });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/refused\s+.*: the archive .* lacks the data of public\.migrations, so the database was kept/);
    expect(await exists(fx)).toBe(true);

    r = await fx.cli('retention', 'prune', '--yes', '--now', later);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await exists(fx)).toBe(false);
    const files = (await readdir(join(fx.dir, 'backups'))).filter((f) => !f.endsWith('.partial'));
    expect(files.length).toBeGreaterThanOrEqual(1);
    for (const f of files) expect((await stat(join(fx.dir, 'backups', f))).mode & 0o777, f).toBe(0o600);
  });

  it('6b. without an archive, a backup holding ignored rows or a schema outside source.schemas is refused', async () => {
    const fx = await splitFixture({ scale: 0.25, source: servers().main });
    fixtures.push(fx);
    await query(fx.sourceUrl, `CREATE SCHEMA audit; CREATE TABLE audit.trail (id int); INSERT INTO audit.trail SELECT generate_series(1, 3)`);
    const a = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(a.code, a.stderr).toBe(0);
    const verified = await fx.cli('verify', '--checksums');
    expect(verified.code, verified.stdout).toBe(0);
    const later = new Date(Date.now() + 8 * DAY).toISOString();
    // The preview says what --yes does: the same refusal, the same reason, the same exit code.
    const preview = await fx.cli('retention', 'prune', '--no-archive', '--json', '--now', later);
    const r = await fx.cli('retention', 'prune', '--yes', '--no-archive', '--json', '--now', later);
    expect(r.code).toBe(1);
    const [entry] = (JSON.parse(r.stdout) as PruneJson).backups;
    const [seen] = (JSON.parse(preview.stdout) as PruneJson).backups;
    expect(preview.code, preview.stdout).toBe(1);
    expect(seen).toMatchObject({ action: 'refused', reason: entry!.reason });
    expect(entry).toMatchObject({ action: 'refused' });
    expect(entry!.reason).toMatch(/^it still holds rows that exist nowhere else: audit\.trail \(3 rows, a schema outside source\.schemas\), .*; set retention\.archive/);
    expect(entry!.reason).toMatch(/public\.migrations \(\d+ rows, not moved by the split\)/);
    expect(await exists(fx)).toBe(true);
    expect(await query(fx.sourceUrl, `SELECT count(*)::int AS n FROM audit.trail`)).toEqual([{ n: 3 }]);
  });
});
