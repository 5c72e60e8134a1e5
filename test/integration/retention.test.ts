import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { query, servers, withDatabase } from '../harness/servers.js';
import { splitFixture, sampleTemplate, dropTemplate, type SplitFixture } from './helpers/split-fixture.js';
import { runCli } from './helpers/cli.js';

const fixtures: SplitFixture[] = [];
let template = '';
beforeAll(async () => {
  // A third of the sample: what is proved here does not depend on the amount of data.
  template = await sampleTemplate(servers().main, 0.3);
});
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
  await dropTemplate(servers().main, template);
});

const DAY = 86_400_000;
const q = (name: string): string => `"${name.replaceAll('"', '""')}"`;

async function exists(fx: SplitFixture, database: string): Promise<boolean> {
  const rows = await query(fx.sourceServer, `SELECT 1 FROM pg_database WHERE datname = $1`, [database]);
  return rows.length === 1;
}

interface PruneJson {
  dryRun: boolean;
  backups: Array<{ database: string; action: string; reason: string; state: string }>;
}

describe('retention', () => {
  it('lists the backup, and prune drops it only when expired, with --yes, unused and still the database the journal marked', async () => {
    const fx = await splitFixture({ template });
    fixtures.push(fx);
    // The legacy tables the sample leaves in the source hold rows that would exist nowhere else once it is dropped, which
    // (without an archive) any prune refuses, its preview too; emptied before the split, the backup holds only moved rows.
    await query(fx.sourceUrl, `DELETE FROM legacy_user_import; DELETE FROM migrations; DELETE FROM typeorm_metadata`);
    const t0 = Date.now();
    const applied = await fx.cli('apply', '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr).toBe(0);

    const listed = await fx.cli('retention', 'list', '--json');
    expect(listed.code, listed.stderr).toBe(0);
    const rows = JSON.parse(listed.stdout) as Array<{ database: string; server: string; split: string; expires: string; state: string; verified: boolean }>;
    expect(rows).toHaveLength(1);
    // The sample says source.retire: true: the whole database is the backup.
    expect(rows[0]).toMatchObject({ database: fx.sourceDb, server: 'source', split: fx.name, state: 'scheduled', verified: false, retired: true, tables: [] });
    const verified = await fx.cli('verify', '--checksums');
    expect(verified.code, verified.stdout).toBe(0);
    const listedAgain = JSON.parse((await fx.cli('retention', 'list', '--json')).stdout) as Array<{ verified: boolean }>;
    expect(listedAgain).toMatchObject([{ verified: true }]);
    const expires = Date.parse(rows[0]!.expires);
    expect(expires).toBeGreaterThanOrEqual(t0 + 7 * DAY - 1000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 7 * DAY + 1000);
    const human = await fx.cli('retention', 'list', '--now', new Date(expires + DAY).toISOString());
    expect(human.stdout).toMatch(new RegExp(`${fx.sourceDb}\\s+source\\s+${fx.name}\\s+.*ago\\)\\s+expired`));
    const [db] = await query<{ comment: string; readonly: string[] }>(
      fx.sourceServer,
      `SELECT shobj_description(d.oid, 'pg_database') AS comment,
              (SELECT setconfig FROM pg_db_role_setting WHERE setdatabase = d.oid AND setrole = 0) AS readonly
         FROM pg_database d WHERE datname = $1`,
      [fx.sourceDb],
    );
    expect(db!.comment).toContain(`expires ${rows[0]!.expires}`);
    expect(db!.readonly).toEqual(['default_transaction_read_only=on']);

    // Not expired yet: nothing to drop. A scheduler needs no service password for this.
    const noPasswords: NodeJS.ProcessEnv = { ...fx.env };
    for (const s of fx.services) delete noPasswords[s.passwordVar];
    const early = await runCli(['retention', 'prune', '-m', fx.manifestFile, '--yes', '--json', '--now', new Date(expires - DAY).toISOString()], noPasswords);
    expect(early.code, early.stderr).toBe(0);
    expect((JSON.parse(early.stdout) as PruneJson).backups).toMatchObject([{ database: fx.sourceDb, action: 'kept' }]);
    expect(await exists(fx, fx.sourceDb)).toBe(true);

    const later = new Date(expires + DAY).toISOString();
    // Expired, but no --yes: it says what it would drop and refuses.
    const noYes = await fx.cli('retention', 'prune', '--now', later);
    expect(noYes.code).toBe(2);
    expect(noYes.stdout).toContain(`would drop  ${fx.sourceDb}`);
    expect(noYes.stderr).toContain('without --yes');
    expect(await exists(fx, fx.sourceDb)).toBe(true);
    // On a terminal it asks once; anything but "yes" drops nothing.
    const declined = await runCli(['retention', 'prune', '-m', fx.manifestFile, '--now', later], fx.env, { terminal: true, answer: 'no' });
    expect(declined.code, declined.stderr).toBe(0);
    expect(declined.stderr).toContain('Drop 1 expired backup? Type "yes" to go on:');
    expect(declined.stderr).toContain('Nothing was dropped.');
    expect(await exists(fx, fx.sourceDb)).toBe(true);

    // A look-alike the journal never marked: same comment, read-only too.
    const decoy = `${fx.prefix}decoy`;
    await query(fx.sourceServer, `CREATE DATABASE ${q(decoy)}`);
    await query(fx.sourceServer, `COMMENT ON DATABASE ${q(decoy)} IS '${db!.comment.replaceAll("'", "''")}'`);
    await query(fx.sourceServer, `ALTER DATABASE ${q(decoy)} SET default_transaction_read_only = on`);

    // Another database under the backup's name (the backup renamed away): refused.
    const moved = `${fx.prefix}moved`;
    await query(fx.sourceServer, `ALTER DATABASE ${q(fx.sourceDb)} RENAME TO ${q(moved)}`);
    await query(fx.sourceServer, `CREATE DATABASE ${q(fx.sourceDb)}`);
    await query(fx.sourceServer, `COMMENT ON DATABASE ${q(fx.sourceDb)} IS '${db!.comment.replaceAll("'", "''")}'`);
    let r = await fx.cli('retention', 'prune', '--yes', '--now', later);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('is not the backup this split kept');
    expect(await exists(fx, fx.sourceDb)).toBe(true);
    await query(fx.sourceServer, `DROP DATABASE ${q(fx.sourceDb)}`);
    await query(fx.sourceServer, `ALTER DATABASE ${q(moved)} RENAME TO ${q(fx.sourceDb)}`);

    // In use: a session is connected to it.
    const session = new pg.Client({ connectionString: fx.sourceUrl });
    await session.connect();
    try {
      r = await fx.cli('retention', 'prune', '--yes', '--now', later);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/refused\s+.*: it is in use: pid \d+/);
      expect(await exists(fx, fx.sourceDb)).toBe(true);
      // Written since it became a backup (an ignored table is not fenced).
      await session.query(`BEGIN READ WRITE`);
      await session.query(`INSERT INTO migrations ("timestamp", name) VALUES (1, 'late writer')`);
      await session.query(`COMMIT`);
      await session.query(`SELECT pg_stat_force_next_flush()`);
      await session.query(`SELECT 1`);
    } finally {
      await session.end();
    }
    const inserted = async () =>
      Number((await query<{ n: string }>(fx.sourceUrl, `SELECT n_tup_ins::text AS n FROM pg_stat_user_tables WHERE relname = 'migrations'`))[0]?.n ?? 0);
    await expect.poll(inserted, { timeout: 15_000, interval: 200 }).toBeGreaterThan(0);
    r = await fx.cli('retention', 'prune', '--yes', '--now', later);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`1 row was written to ${fx.sourceDb} since it became a read-only backup: public.migrations (1)`);
    expect(await exists(fx, fx.sourceDb)).toBe(true);
    // The statistics reset: the counters cannot tell any more whether it was written to, so it is kept.
    await query(fx.sourceUrl, `SELECT pg_stat_reset()`);
    r = await fx.cli('retention', 'prune', '--yes', '--json', '--now', later);
    expect(r.code).toBe(1);
    expect((JSON.parse(r.stdout) as PruneJson).backups).toMatchObject([{ database: fx.sourceDb, action: 'refused' }]);
    expect(r.stdout).toContain('statistics of');
    expect(await exists(fx, fx.sourceDb)).toBe(true);
    expect(await exists(fx, decoy)).toBe(true);
    await query(fx.sourceServer, `DROP DATABASE ${q(decoy)}`);
    // The new databases are untouched by all this.
    for (const s of fx.services) expect(await exists(fx, s.database), s.database).toBe(true);
    expect(withDatabase(fx.sourceServer, fx.sourceDb)).toBe(fx.sourceUrl);
  });
});
