import { afterAll, describe, expect, it } from 'vitest';
import { query } from '../harness/servers.js';
import { BILLING_TABLES, StayingWriter, tableComments, wavesFixture, writeError, type WavesFixture } from './helpers/waves-fixture.js';

const fixtures: WavesFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

interface ListJson {
  database: string;
  split: string;
  state: string;
  expires: string;
  retired: boolean;
  tables: Array<{ table: string; expires: string }>;
}

async function databaseState(fx: WavesFixture): Promise<{ comment: string | null; setconfig: string[] | null; acl: string | null }> {
  const [row] = await query<{ comment: string | null; setconfig: string[] | null; acl: string | null }>(
    fx.sourceServer,
    `SELECT shobj_description(d.oid, 'pg_database') AS comment, d.datacl::text AS acl,
            (SELECT setconfig FROM pg_db_role_setting WHERE setdatabase = d.oid AND setrole = 0) AS setconfig
       FROM pg_database d WHERE datname = $1`,
    [fx.sourceDb],
  );
  return row!;
}

describe('retention of a split that does not retire the source', () => {
  it('keeps the tables that stay writable during and after apply, fences and marks only the moved ones, and verify passes', async () => {
    const fx = await wavesFixture();
    fixtures.push(fx);
    const before = await databaseState(fx);
    const writer = new StayingWriter(fx.sourceUrl);
    await writer.start();
    try {
      await writer.more(5);
      const applied = await fx.billing.cli('apply', '--yes');
      expect(applied.code, applied.stderr).toBe(0);
      await writer.more(20);
    } finally {
      await writer.stop();
    }
    expect(writer.errors).toEqual([]);
    expect(writer.writes).toBeGreaterThan(25);

    // Every moved table rejects writes with the fence's message; the others take them.
    for (const [table, sql] of [
      ['invoices', `INSERT INTO invoices (account_id, total) VALUES (1, 1)`],
      ['invoice_lines', `INSERT INTO invoice_lines (invoice_id, line, amount) VALUES (1, 9, 1)`],
      ['invoice_lines_low', `INSERT INTO invoice_lines_low (invoice_id, line, amount) VALUES (1, 9, 1)`],
      ['invoices', `UPDATE invoices SET total = 0 WHERE id = 1`],
    ] as const) {
      expect(await writeError(fx.sourceUrl, sql)).toMatch(new RegExp(`table public\\.${table} has moved to database ${fx.billing.database}`));
    }
    expect(await writeError(fx.sourceUrl, `INSERT INTO events (kind) VALUES ('after')`)).toBeNull();
    expect(await writeError(fx.sourceUrl, `DELETE FROM audit WHERE note = 'writer'`)).toBeNull();
    // A new session is read-write: the database itself is not touched.
    expect(await databaseState(fx)).toEqual(before);

    const comments = await tableComments(fx.sourceUrl, [...BILLING_TABLES, 'public.events', 'public.accounts']);
    for (const t of BILLING_TABLES) expect(comments[t], t).toMatch(new RegExp(`^cloudphone-split: moved by split ${fx.billing.name}, kept here as a fenced backup; expires \\d{4}-`));
    expect(comments['public.events']).toBe('what happened');
    expect(comments['public.accounts']).toBeNull();

    const verified = await fx.billing.cli('verify');
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);

    const listed = await fx.billing.cli('retention', 'list', '--json');
    expect(listed.code, listed.stderr).toBe(0);
    const rows = JSON.parse(listed.stdout) as ListJson[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ database: fx.sourceDb, split: fx.billing.name, state: 'scheduled', retired: false });
    expect(rows[0]!.tables.map((t) => t.table).sort()).toEqual([...BILLING_TABLES].sort());
    for (const t of rows[0]!.tables) expect(t.expires).toBe(rows[0]!.expires);
    expect(comments['public.invoices']).toContain(`expires ${rows[0]!.expires}`);
    const human = await fx.billing.cli('retention', 'list');
    expect(human.stdout).toContain('public.invoices');
    expect(human.stdout).toMatch(/4 moved tables/);
  });
});
