import { afterAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { query } from '../harness/servers.js';
import { BILLING_TABLES, OPS_TABLES, tableComments, wavesFixture, writeError, type WavesFixture } from './helpers/waves-fixture.js';

const fixtures: WavesFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

/** What a split may change in the source: comments of relations, triggers, the tool's schema, the database's own settings. */
interface SourceState {
  comments: Record<string, string | null>;
  triggers: string[];
  schemas: string[];
  database: { comment: string | null; acl: string | null; setconfig: string[] | null };
}

async function sourceState(fx: WavesFixture): Promise<SourceState> {
  const rels = await query<{ key: string; comment: string | null }>(
    fx.sourceUrl,
    `SELECT n.nspname || '.' || c.relname AS key, obj_description(c.oid, 'pg_class') AS comment
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY 1`,
  );
  const triggers = await query<{ t: string }>(
    fx.sourceUrl,
    `SELECT tgrelid::regclass::text || ' ' || tgname || ' ' || tgenabled::text AS t FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1`,
  );
  const schemas = await query<{ nspname: string }>(fx.sourceUrl, `SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' ORDER BY 1`);
  const [database] = await query<SourceState['database']>(
    fx.sourceServer,
    `SELECT shobj_description(d.oid, 'pg_database') AS comment, d.datacl::text AS acl,
            (SELECT setconfig FROM pg_db_role_setting WHERE setdatabase = d.oid AND setrole = 0) AS setconfig
       FROM pg_database d WHERE datname = $1`,
    [fx.sourceDb],
  );
  return { comments: Object.fromEntries(rels.map((r) => [r.key, r.comment])), triggers: triggers.map((t) => t.t), schemas: schemas.map((s) => s.nspname), database: database! };
}

describe('rollback of one of two splits of the same source', () => {
  it('restores only what that split changed (fence, table comments, config) and leaves the other split fenced, marked and scheduled', async () => {
    const fx = await wavesFixture({
      edit: (doc, which) => {
        if (which !== 'billing') return;
        const services = doc.services as Record<string, Record<string, unknown>>;
        services['billing-service']!.config = [{ file: 'billing.env', key: 'DB_DATABASE' }];
      },
    });
    fixtures.push(fx);
    const envFile = join(fx.dir, 'billing.env');
    const original = `DB_HOST=localhost\nDB_DATABASE=${fx.sourceDb}\n`;
    await writeFile(envFile, original);
    const before = await sourceState(fx);

    for (const split of [fx.billing, fx.ops]) {
      const applied = await split.cli('apply', '--yes');
      expect(applied.code, `${split.name}: ${applied.stderr}`).toBe(0);
    }
    expect(await readFile(envFile, 'utf8')).toContain(`DB_DATABASE=${fx.billing.database}`);
    const both = await sourceState(fx);
    for (const t of [...BILLING_TABLES, ...OPS_TABLES]) expect(both.comments[t], t).toMatch(/^cloudphone-split: moved by split /);
    expect(both.database).toEqual(before.database);

    const rb = await fx.billing.cli('rollback', '--yes');
    expect(rb.code, rb.stderr + rb.stdout).toBe(0);
    expect(rb.stdout).toContain('comments restored on 4 moved tables');
    expect(rb.stdout).toContain(`still fenced by other splits of ${fx.sourceDb} (other waves; rolling those back lifts it): 1 table: public.events`);
    expect(await readFile(envFile, 'utf8')).toBe(original);
    const after = await sourceState(fx);
    // Billing's tables are as before the splits; ops's keep their fence and mark; the database itself was never touched.
    expect(after.database).toEqual(before.database);
    expect(after.schemas).toEqual(both.schemas);
    for (const [key, comment] of Object.entries(after.comments)) {
      expect(comment, key).toBe(OPS_TABLES.includes(key) ? both.comments[key] : before.comments[key]);
    }
    expect(after.comments['public.invoices']).toBe('one row per invoice sent');
    expect(after.triggers).toEqual(['events cloudphone_split_fence A']);
    expect(await writeError(fx.sourceUrl, `INSERT INTO invoices (account_id, total) VALUES (1, 5)`)).toBeNull();
    expect(await writeError(fx.sourceUrl, `INSERT INTO invoice_lines_low (invoice_id, line, amount) VALUES (1, 7, 1)`)).toBeNull();
    expect(await writeError(fx.sourceUrl, `INSERT INTO events (kind) VALUES ('x')`)).toMatch(new RegExp(`table public\\.events has moved to database ${fx.ops.database}: write there instead \\(fenced by cloudphone-split, split ${fx.ops.name}\\)`));
    expect(await query(fx.sourceServer, `SELECT 1 FROM pg_database WHERE datname = $1`, [fx.billing.database])).toHaveLength(0);
    expect(await query(fx.sourceServer, `SELECT 1 FROM pg_database WHERE datname = $1`, [fx.ops.database])).toHaveLength(1);
    const listed = JSON.parse((await fx.ops.cli('retention', 'list', '--json')).stdout) as Array<{ split: string; state: string; tables: Array<{ table: string }> }>;
    expect(listed.map((r) => [r.split, r.state]).sort()).toEqual([[fx.billing.name, 'restored'], [fx.ops.name, 'scheduled']].sort());
    expect(listed.find((r) => r.split === fx.ops.name)!.tables.map((t) => t.table)).toEqual(OPS_TABLES);
    // Listed for people: the restored backup has no expiry any more, nor its tables; the other's still has.
    const human = (await fx.ops.cli('retention', 'list')).stdout.split('\n');
    expect(human.find((l) => l.includes(fx.billing.name))).toMatch(/\s-\s+restored\s/);
    expect(human.filter((l) => /^\s+public\.\S+\s+expires /.test(l)).map((l) => l.trim().split(/\s+/)[0])).toEqual(OPS_TABLES);
    const verified = await fx.ops.cli('verify');
    expect(verified.code, verified.stdout).toBe(0);

    // The other split rolled back too: the source is exactly as before either split, the tool's schema gone.
    const rbOps = await fx.ops.cli('rollback', '--yes');
    expect(rbOps.code, rbOps.stderr + rbOps.stdout).toBe(0);
    const final = await sourceState(fx);
    expect(final).toEqual(before);
  });

  it('refuses a plan made while an earlier wave was applied once that wave is rolled back, and names the keys a rollback leaves to another wave\'s fenced backup', async () => {
    const fx = await wavesFixture();
    fixtures.push(fx);
    // events (ops) references invoices (billing), deleting with it.
    await query(fx.sourceUrl, `ALTER TABLE events ADD COLUMN invoice_id bigint REFERENCES invoices (id) ON DELETE CASCADE`);
    const billing = await fx.billing.cli('apply', '--yes');
    expect(billing.code, billing.stderr).toBe(0);
    const planFile = join(fx.dir, 'ops.plan.json');
    const planned = await fx.ops.cli('plan', '-o', planFile);
    expect(planned.code, planned.stderr).toBe(0);
    const plan = JSON.parse(await readFile(planFile, 'utf8')) as { movedEarlier?: Array<{ table: string; split: string }> };
    expect(plan.movedEarlier?.map((m) => m.table)).toContain('public.invoices');
    const back = await fx.billing.cli('rollback', '--yes');
    expect(back.code, back.stderr + back.stdout).toBe(0);

    // The plan treats invoices as another database's; it is the source's again: refused, nothing done.
    const stale = await fx.ops.cli('apply', planFile, '--yes');
    expect(stale.code, stale.stdout + stale.stderr).toBe(4);
    expect(stale.stderr).toContain(
      `another split of the source was rolled back since this plan was made: the plan leaves public.invoice_lines, public.invoice_lines_high, public.invoice_lines_low, public.invoices ` +
        `alone as moved by split ${fx.billing.name}, which no longer fences them (rolled back since the plan was made)`,
    );
    expect(stale.stderr).toMatch(/make a new plan \(cloudphone-split plan\) and review it/);
    expect(await query(fx.sourceServer, `SELECT 1 FROM pg_database WHERE datname = $1`, [fx.ops.database])).toHaveLength(0);
    expect(await writeError(fx.sourceUrl, `INSERT INTO events (kind) VALUES ('still writable')`)).toBeNull();

    // Both applied again, ops after billing; rolling billing back gives invoices back with ops's backup still referencing it.
    expect((await fx.billing.cli('apply', '--yes')).code).toBe(0);
    const ops = await fx.ops.cli('apply', '--yes');
    expect(ops.code, ops.stderr).toBe(0);
    const again = await fx.billing.cli('rollback', '--yes', '--json');
    expect(again.code, again.stderr).toBe(0);
    const report = JSON.parse(again.stdout) as { preview: { crossWaveKeys?: string[] }; warnings: string[] };
    const said =
      `public.events, split ${fx.ops.name}'s fenced backup, keeps its foreign key events_invoice_id_fkey to public.invoices, which this rollback gives back to the source's services; ` +
      `ON DELETE CASCADE: every DELETE on public.invoices runs that action on the fenced backup and fails there, even for rows nothing references. ` +
      `Drop it in the source if that matters (ALTER TABLE public.events DROP CONSTRAINT events_invoice_id_fkey); a rollback of split ${fx.ops.name} would then give the source back without it`;
    expect(report.preview.crossWaveKeys).toEqual([said]);
    expect(report.warnings).toContain(said);
    // As said: a new invoice nothing references cannot be deleted, until the key is dropped.
    const [row] = await query<{ id: string }>(fx.sourceUrl, `INSERT INTO invoices (account_id, total) VALUES (1, 5) RETURNING id`);
    expect(await writeError(fx.sourceUrl, `DELETE FROM invoices WHERE id = ${row!.id}`)).toMatch(/has moved to database/);
    await query(fx.sourceUrl, `ALTER TABLE public.events DROP CONSTRAINT events_invoice_id_fkey`);
    expect(await writeError(fx.sourceUrl, `DELETE FROM invoices WHERE id = ${row!.id}`)).toBeNull();
  });
});
