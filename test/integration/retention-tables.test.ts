import { afterAll, describe, expect, it } from 'vitest';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pg15, query, withDatabase } from '../harness/servers.js';
import { runCli, spawnCli } from './helpers/cli.js';
import { SplitLock } from '../../src/engine/lock.js';
import { defaultPlanFile } from '../../src/run/plan.js';
import { BILLING_TABLES, StayingWriter, tableComments, wavesFixture, writeError, type WavesFixture } from './helpers/waves-fixture.js';

const fixtures: WavesFixture[] = [];
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

const DAY = 86_400_000;

interface PruneJson {
  backups: Array<{
    database: string;
    action: string;
    reason: string;
    archive: string | null;
    dropped?: {
      tables: string[];
      partitions: string[];
      views: string[];
      sequences: string[];
      constraints: Array<{ table: string; constraint: string; references: string }>;
    };
  }>;
}

async function relations(url: string): Promise<string[]> {
  const rows = await query<{ key: string }>(
    url,
    `SELECT n.nspname || '.' || c.relname AS key FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S') ORDER BY 1`,
  );
  return rows.map((r) => r.key);
}

async function appliedBilling(fx: WavesFixture): Promise<void> {
  const applied = await fx.billing.cli('apply', '--yes');
  expect(applied.code, applied.stderr).toBe(0);
  const verified = await fx.billing.cli('verify', '--checksums');
  expect(verified.code, verified.stdout).toBe(0);
}

/** The waves source on PostgreSQL 15 with billing applied and verified, its manifest archiving to `backups/`. */
async function archivingBilling(): Promise<WavesFixture> {
  const fx = await wavesFixture({
    server: pg15(),
    edit: (doc) => {
      doc.retention = { days: 7, archive: 'backups' };
    },
  });
  fixtures.push(fx);
  await appliedBilling(fx);
  return fx;
}

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

    // Applied: the same manifest again has nothing to do; a changed one (here a comment line; planning again also
    // reads the backups' new comments) is refused, and no run is started over the databases in use.
    const runs = async () => (JSON.parse((await fx.billing.cli('status', '--json')).stdout) as { runs: unknown[] }).runs.length;
    const count = await runs();
    const again = await fx.billing.cli('apply', '--yes');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('nothing left to do');
    // While another command of the split holds its lock (a rollback undoing it), "nothing left to do" is not said: exit 5.
    const rollbackLock = await SplitLock.acquire(withDatabase(fx.sourceServer, `${fx.prefix}control`), fx.billing.name, `cloudphone-split rollback ${fx.billing.name}`);
    try {
      const during = await fx.billing.cli('apply', '--yes');
      expect(during.code, during.stdout).toBe(5);
      expect(during.stderr).toContain(`cloudphone-split rollback ${fx.billing.name}`);
    } finally {
      await rollbackLock.release();
    }
    const planFile = defaultPlanFile(fx.billing.manifestFile, fx.billing.name);
    const appliedPlan = await readFile(planFile, 'utf8');
    // The same manifest planned again: what apply does with it (nothing), not that it refuses.
    const same = await fx.billing.cli('plan', '--json');
    expect((JSON.parse(same.stdout) as { warnings: string[] }).warnings[0]).toContain(`split ${fx.billing.name} is applied already, with this manifest: \`apply\` has nothing left to do`);
    await writeFile(fx.billing.manifestFile, `# edited after the split\n${await readFile(fx.billing.manifestFile, 'utf8')}`);
    const replanned = await fx.billing.cli('plan', '--json');
    expect(replanned.code, replanned.stderr).toBe(0);
    expect((JSON.parse(replanned.stdout) as { warnings: string[] }).warnings[0]).toContain(`split ${fx.billing.name} is applied already, with another plan: \`apply\` refuses this one`);
    expect(replanned.stderr).toContain(`Plan not written to ${planFile}: split ${fx.billing.name} is applied with another plan, whose file reruns of apply need`);
    const changed = await fx.billing.cli('apply', '--yes');
    expect(changed.code, changed.stdout + changed.stderr).toBe(2);
    expect(changed.stderr).toContain(`split ${fx.billing.name} is applied, with another plan`);
    expect(await runs()).toBe(count);
    // The refused plan is not written over the applied one's file: a Job running `apply <plan file>` again still works.
    expect(await readFile(planFile, 'utf8')).toBe(appliedPlan);
    const byFile = await runCli(['apply', planFile, '--yes'], fx.env);
    expect(byFile.code, byFile.stderr).toBe(0);
    expect(byFile.stdout).toContain('nothing left to do');
    expect((await fx.billing.cli('verify')).code).toBe(0);
  });

  it('prune after expiry drops exactly the moved tables (naming the foreign keys, partitions, view and sequence that go with them), and refuses while a moved table was written to or is another table', async () => {
    const fx = await wavesFixture();
    fixtures.push(fx);
    await appliedBilling(fx);
    // apply records the source it ran against, its database OID included: a database made again under the name is another source.
    const [fact] = await query<{ value: { database: string; databaseOid: string } }>(withDatabase(fx.sourceServer, `${fx.prefix}control`), `SELECT value FROM cloudphone_split.facts WHERE split = $1 AND key = 'source'`, [fx.billing.name]);
    const [sourceOid] = await query<{ oid: string }>(fx.sourceServer, `SELECT oid::text AS oid FROM pg_database WHERE datname = $1`, [fx.sourceDb]);
    expect(fact!.value).toMatchObject({ database: fx.sourceDb, databaseOid: sourceOid!.oid });
    // Another split of the same source moved events: prune of billing leaves it as it is.
    const ops = await fx.ops.cli('apply', '--yes');
    expect(ops.code, ops.stderr).toBe(0);
    const opsMark = (await tableComments(fx.sourceUrl, ['public.events']))['public.events'];
    const before = await relations(fx.sourceUrl);
    const auditRows = async () => Number((await query<{ n: string }>(fx.sourceUrl, `SELECT count(*)::text AS n FROM audit`))[0]!.n);
    const audit = await auditRows();
    const later = new Date(Date.now() + 8 * DAY).toISOString();

    const early = await fx.billing.cli('retention', 'prune', '--yes', '--json');
    expect(early.code, early.stderr).toBe(0);
    expect((JSON.parse(early.stdout) as PruneJson).backups).toMatchObject([{ action: 'kept' }]);
    const noYes = await fx.billing.cli('retention', 'prune', '--now', later);
    expect(noYes.code).toBe(2);
    expect(noYes.stdout).toContain('drops its 4 moved tables (the database stays)');

    // Written to behind the fence's back (trigger disabled, a row added, trigger enabled again): refused.
    await query(fx.sourceUrl, `ALTER TABLE invoices DISABLE TRIGGER cloudphone_split_fence`);
    await query(fx.sourceUrl, `INSERT INTO invoices (id, account_id, total) VALUES (99999, 1, 1)`);
    let r = await fx.billing.cli('retention', 'prune', '--yes', '--now', later);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('the fence is gone or no longer enabled on public.invoices');
    await query(fx.sourceUrl, `ALTER TABLE invoices ENABLE ALWAYS TRIGGER cloudphone_split_fence`);
    r = await fx.billing.cli('retention', 'prune', '--yes', '--now', later);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('written to since it became a backup: public.invoices (1500 rows then, 1501 now)');
    expect(await relations(fx.sourceUrl)).toEqual(before);
    await query(fx.sourceUrl, `ALTER TABLE invoices DISABLE TRIGGER cloudphone_split_fence; DELETE FROM invoices WHERE id = 99999; ALTER TABLE invoices ENABLE ALWAYS TRIGGER cloudphone_split_fence`);

    // Another table under a moved table's name, carrying the same comment: refused.
    const [{ comment }] = (await query<{ comment: string }>(fx.sourceUrl, `SELECT obj_description('invoice_lines_high'::regclass, 'pg_class') AS comment`)) as [{ comment: string }];
    await query(fx.sourceUrl, `ALTER TABLE invoice_lines DETACH PARTITION invoice_lines_high`);
    await query(fx.sourceUrl, `ALTER TABLE invoice_lines_high RENAME TO invoice_lines_high_kept`);
    await query(fx.sourceUrl, `CREATE TABLE invoice_lines_high PARTITION OF invoice_lines FOR VALUES FROM (1000) TO (2000)`);
    await query(fx.sourceUrl, `COMMENT ON TABLE invoice_lines_high IS '${comment.replaceAll("'", "''")}'`);
    r = await fx.billing.cli('retention', 'prune', '--yes', '--now', later);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/public\.invoice_lines_high is not the table the split kept \(OID \d+ then, \d+ now\)/);
    await query(fx.sourceUrl, `DROP TABLE invoice_lines_high`);
    await query(fx.sourceUrl, `ALTER TABLE invoice_lines_high_kept RENAME TO invoice_lines_high`);
    await query(fx.sourceUrl, `ALTER TABLE invoice_lines ATTACH PARTITION invoice_lines_high FOR VALUES FROM (1000) TO (MAXVALUE)`);
    expect(await relations(fx.sourceUrl)).toEqual(before);

    // A partition attached since (as a job creating tomorrow's partition does): the fence's row trigger on
    // invoice_lines is cloned onto it, so a write straight into it fails like one through its parent (a statement
    // trigger is not cloned to a new partition), a replica session's too.
    await query(fx.sourceUrl, `ALTER TABLE invoice_lines DETACH PARTITION invoice_lines_high`);
    await query(fx.sourceUrl, `ALTER TABLE invoice_lines ATTACH PARTITION invoice_lines_high FOR VALUES FROM (1000) TO (1501)`);
    await query(fx.sourceUrl, `CREATE TABLE invoice_lines_late (LIKE invoice_lines)`);
    await query(fx.sourceUrl, `ALTER TABLE invoice_lines ATTACH PARTITION invoice_lines_late FOR VALUES FROM (1501) TO (MAXVALUE)`);
    await expect(query(fx.sourceUrl, `SET session_replication_role = replica; INSERT INTO invoice_lines_late VALUES (2000, 1, 1)`)).rejects.toMatchObject({
      code: '25006',
      message: expect.stringContaining('table public.invoice_lines_late has moved to database'),
    });
    const fencedLate = await fx.billing.cli('verify', '--json');
    const fenceChecks = (JSON.parse(fencedLate.stdout) as { checks: Array<{ kind: string; ok: boolean; table?: string }> }).checks.filter((c) => c.kind === 'fence');
    expect(fenceChecks.find((c) => c.table === 'public.invoice_lines')).toMatchObject({ ok: true });
    expect(fenceChecks.filter((c) => !c.ok)).toEqual([]);
    // With that clone disabled, written straight into: verify's fence check names it; prune refuses, where its
    // DROP TABLE of invoice_lines took the partition and its row along without a word.
    await query(fx.sourceUrl, `ALTER TABLE invoice_lines_late DISABLE TRIGGER cloudphone_split_fence_rows`);
    await query(fx.sourceUrl, `SET session_replication_role = replica; INSERT INTO invoice_lines_late VALUES (2000, 1, 1)`);
    const fenceCheck = await fx.billing.cli('verify', '--json');
    expect(fenceCheck.code).toBe(1);
    const fenceFailures = (JSON.parse(fenceCheck.stdout) as { checks: Array<{ kind: string; ok: boolean; detail: string }> }).checks.filter((c) => c.kind === 'fence' && !c.ok);
    expect(fenceFailures.map((c) => c.detail)).toEqual([
      expect.stringContaining(`partition public.invoice_lines_late of public.invoice_lines was created or attached after the fence and is not fenced`),
    ]);
    expect(fenceFailures[0]!.detail).toContain(`CREATE TRIGGER "cloudphone_split_fence" BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON "public"."invoice_lines_late"`);
    r = await fx.billing.cli('retention', 'prune', '--yes', '--now', later);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('a partition was created or attached since the split kept its table: public.invoice_lines_late (of public.invoice_lines)');
    expect(Number((await query<{ n: string }>(fx.sourceUrl, `SELECT count(*)::text AS n FROM invoice_lines_late`))[0]!.n)).toBe(1);
    await query(fx.sourceUrl, `ALTER TABLE invoice_lines DETACH PARTITION invoice_lines_late`);
    await query(fx.sourceUrl, `DROP TABLE invoice_lines_late`);
    await query(fx.sourceUrl, `ALTER TABLE invoice_lines DETACH PARTITION invoice_lines_high`);
    await query(fx.sourceUrl, `ALTER TABLE invoice_lines ATTACH PARTITION invoice_lines_high FOR VALUES FROM (1000) TO (MAXVALUE)`);
    expect(await relations(fx.sourceUrl)).toEqual(before);

    // A view of the source over a moved table, and a function using one's row type: prune never cascades, so
    // the drop would fail; the preview says so (it said "would drop"), and so does the run, before anything.
    await query(fx.sourceUrl, `CREATE VIEW big_invoices AS SELECT id FROM invoices WHERE total > 100; CREATE FUNCTION last_invoice() RETURNS SETOF invoices LANGUAGE sql AS 'SELECT * FROM invoices ORDER BY id DESC LIMIT 1'`);
    const previewed = await fx.billing.cli('retention', 'prune', '--now', later);
    expect(previewed.code, previewed.stdout).toBe(1);
    expect(previewed.stdout).toContain('dropping the moved tables would fail, since prune never cascades: function last_invoice() depends on the row type of public.invoices; view public.big_invoices depends on table public.invoices');
    r = await fx.billing.cli('retention', 'prune', '--yes', '--now', later);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('dropping the moved tables would fail');
    await query(fx.sourceUrl, `DROP VIEW big_invoices; DROP FUNCTION last_invoice()`);
    // A function whose body reads a moved table (made after the plan, so plan never saw it): PostgreSQL would drop the
    // table under it, and it would fail at its next call; prune names it and refuses, preview and run alike.
    // SQL built at run time is not read: a function that names a moved table in it counts (purge_old), one that names only staying tables does not (audit_note).
    await query(
      fx.sourceUrl,
      `CREATE FUNCTION invoice_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM invoices';
       CREATE FUNCTION audit_note(i bigint) RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE format('INSERT INTO %I (invoice_id, note) VALUES ($1, %L)', 'audit', 'x') USING i; END $$;
       CREATE FUNCTION purge_old(days int) RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE format('DELETE FROM %I WHERE id < %s', 'Invoices', days); END $$`,
    );
    for (const args of [[], ['--yes']]) {
      const f = await fx.billing.cli('retention', 'prune', ...args, '--now', later);
      expect(f.code, f.stdout).toBe(1);
      expect(f.stdout).toContain(
        'functions of the source use the moved tables, and would fail at their next call once the tables are gone: function public.invoice_count() reads public.invoices; ' +
          'function public.purge_old(days integer) builds SQL at run time (EXECUTE) naming public.invoices; drop or change them in the source first (nothing was dropped)',
      );
    }
    await query(fx.sourceUrl, `DROP FUNCTION invoice_count(); DROP FUNCTION audit_note(bigint); DROP FUNCTION purge_old(int)`);
    expect(await relations(fx.sourceUrl)).toEqual(before);
    // A --checksums run that fails (here: a row written to the new database, as the service does from now on)
    // leaves the backup verified by the run that passed (README): prune goes on below.
    const [{ id: firstInvoice }] = (await query<{ id: string }>(withDatabase(fx.sourceServer, fx.billing.database), `SELECT min(id)::text AS id FROM invoices`)) as [{ id: string }];
    await query(withDatabase(fx.sourceServer, fx.billing.database), `UPDATE invoices SET total = total + 1 WHERE id = ${firstInvoice}`);
    const differs = await fx.billing.cli('verify', '--checksums');
    expect(differs.code, differs.stdout).toBe(1);

    r = await fx.billing.cli('retention', 'prune', '--yes', '--json', '--now', later);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const [entry] = (JSON.parse(r.stdout) as PruneJson).backups;
    expect(entry).toMatchObject({ database: fx.sourceDb, action: 'dropped', archive: null });
    expect(entry!.dropped).toEqual({
      tables: ['public.invoice_lines', 'public.invoices'],
      partitions: ['public.invoice_lines_high', 'public.invoice_lines_low'],
      views: ['public.invoice_totals'],
      sequences: ['public.invoices_id_seq'],
      constraints: [{ table: 'public.audit', constraint: 'audit_invoice_id_fkey', references: 'public.invoices' }],
    });
    expect(entry!.reason).toContain('public.audit.audit_invoice_id_fkey (references public.invoices)');
    const gone = ['public.invoices', 'public.invoices_id_seq', 'public.invoice_lines', 'public.invoice_lines_low', 'public.invoice_lines_high', 'public.invoice_totals'];
    expect(await relations(fx.sourceUrl)).toEqual(before.filter((t) => !gone.includes(t)));
    // What stays is untouched and writable; the database and the new one are still there.
    expect(await auditRows()).toBe(audit);
    expect(await writeError(fx.sourceUrl, `INSERT INTO audit (invoice_id, note) VALUES (424242, 'no invoice table any more')`)).toBeNull();
    expect(await writeError(fx.sourceUrl, `INSERT INTO accounts (name) VALUES ('after prune')`)).toBeNull();
    expect(await query(fx.sourceServer, `SELECT 1 FROM pg_database WHERE datname = $1`, [fx.billing.database])).toHaveLength(1);
    const listed = JSON.parse((await fx.billing.cli('retention', 'list', '--json')).stdout) as ListJson[];
    expect(listed.map((b) => [b.split, b.state]).sort()).toEqual([[fx.billing.name, 'pruned'], [fx.ops.name, 'scheduled']].sort());
    expect((await tableComments(fx.sourceUrl, ['public.events']))['public.events']).toBe(opsMark);
    expect(await writeError(fx.sourceUrl, `INSERT INTO events (kind) VALUES ('x')`)).toMatch(new RegExp(`has moved to database ${fx.ops.database}`));
    // verify has nothing left to compare with, and says so.
    const late = await fx.billing.cli('verify');
    expect(late.code).toBe(2);
    expect(late.stderr).toContain(`its backup in ${fx.sourceDb} was dropped by \`retention prune\``);
    // status says so too (it said "scheduled" before prune).
    expect((JSON.parse((await fx.billing.cli('status', '--json')).stdout) as { retention?: string }).retention).toBe('pruned');
    expect((JSON.parse((await fx.ops.cli('status', '--json')).stdout) as { retention?: string }).retention).toBe('scheduled');
    const again = await fx.billing.cli('retention', 'prune', '--yes', '--now', later);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already pruned');
    // The Job that ran the split runs again, with its plan file or with the manifest: nothing is left to do (exit 0), never a stale plan.
    for (const args of [[defaultPlanFile(fx.billing.manifestFile, fx.billing.name), '--yes'], ['-m', fx.billing.manifestFile, '--yes']]) {
      const rerun = await runCli(['apply', ...args], fx.env);
      expect(rerun.code, rerun.stderr).toBe(0);
      expect(rerun.stdout).toContain('nothing left to do');
    }
    const rb = await fx.billing.cli('rollback', '--yes');
    expect(rb.code).toBe(2);
    expect(rb.stderr).toContain('were dropped by `retention prune`');

    // The other split's fence still uses the fence function; once its tables are pruned too, the tool leaves nothing in the source.
    const toolObjects = async () =>
      query<{ name: string }>(fx.sourceUrl, `SELECT 'schema' AS name FROM pg_namespace WHERE nspname = 'cloudphone_split' UNION ALL SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'cloudphone_split' ORDER BY 1`);
    expect((await toolObjects()).map((o) => o.name)).toEqual(['cloudphone_split.fence()', 'schema']);
    expect((await fx.ops.cli('verify', '--checksums')).code).toBe(0);
    const opsPrune = await fx.ops.cli('retention', 'prune', '--yes', '--json', '--now', later);
    expect(opsPrune.code, opsPrune.stderr + opsPrune.stdout).toBe(0);
    expect((JSON.parse(opsPrune.stdout) as PruneJson).backups, opsPrune.stdout).toMatchObject([{ action: 'dropped' }]);
    expect(await toolObjects()).toEqual([]);
    expect(await writeError(fx.sourceUrl, `INSERT INTO accounts (name) VALUES ('after both prunes')`)).toBeNull();
  });

  it('archives exactly the moved tables with pg_dump -t (15 on a 15 source) before dropping them', async () => {
    const fx = await archivingBilling();
    const r = await fx.billing.cli('retention', 'prune', '--yes', '--json', '--now', new Date(Date.now() + 8 * DAY).toISOString());
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const [entry] = (JSON.parse(r.stdout) as PruneJson).backups;
    expect(entry).toMatchObject({ action: 'dropped' });
    const files = await readdir(join(fx.dir, 'backups'));
    expect(files).toHaveLength(1);
    const file = join(fx.dir, 'backups', files[0]!);
    expect(entry!.archive).toBe(file);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const toc = execFileSync('/usr/lib/postgresql/15/bin/pg_restore', ['-l', file], { encoding: 'utf8' });
    const data = [...toc.matchAll(/TABLE DATA public (\S+) /g)].map((m) => m[1]).sort();
    expect(data).toEqual(['invoice_lines_high', 'invoice_lines_low', 'invoices']);
    expect(await relations(fx.sourceUrl)).toContain('public.audit');
    expect(await relations(fx.sourceUrl)).not.toContain('public.invoices');
  });

  it('stopped (SIGTERM, as Kubernetes stops a Job) while pg_dump archives: pg_dump goes too, with its partial file, and nothing is dropped', async () => {
    const fx = await archivingBilling();
    // A pg_dump first on PATH that says it is 15 and then only waits: the archive is being written when the stop comes.
    const bin = join(fx.dir, 'fake-bin');
    const pidFile = join(fx.dir, 'fake-pg-dump.pid');
    await mkdir(bin);
    await writeFile(join(bin, 'pg_dump'), `#!/bin/bash\nif [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) 15.18"; exit 0; fi\necho $$ > ${pidFile}\nexec sleep 120\n`, { mode: 0o755 });
    const before = await relations(fx.sourceUrl);
    const prune = spawnCli(['retention', 'prune', '--yes', '--now', new Date(Date.now() + 8 * DAY).toISOString(), '-m', fx.billing.manifestFile], { ...fx.env, PATH: `${bin}:${process.env.PATH}` });
    let pid = 0;
    for (let i = 0; i < 400 && !pid; i++) {
      pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim()) || 0;
      if (!pid) await new Promise((r) => setTimeout(r, 50));
    }
    expect(pid, prune.output().stderr).toBeGreaterThan(0);
    expect((await readdir(join(fx.dir, 'backups'))).some((f) => f.endsWith('.partial'))).toBe(true);
    prune.child.kill('SIGTERM');
    const ended = await prune.done;
    expect(ended.signal ?? ended.exitCode).toBe('SIGTERM');
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
    expect(await readdir(join(fx.dir, 'backups'))).toEqual([]);
    expect(await relations(fx.sourceUrl)).toEqual(before);
  });

  it('a later split that retires the source drops the database only once the backups other splits keep in it may go too, and marks them pruned', async () => {
    const fx = await wavesFixture({
      server: pg15(),
      edit: (doc, which) => {
        doc.retention = { days: 7, archive: 'backups' };
        if (which === 'ops') (doc.source as Record<string, unknown>).retire = true;
      },
    });
    fixtures.push(fx);
    const billing = await fx.billing.cli('apply', '--yes');
    expect(billing.code, billing.stderr).toBe(0);
    const ops = await fx.ops.cli('apply', '--yes');
    expect(ops.code, ops.stderr).toBe(0);
    expect((await fx.ops.cli('verify', '--checksums')).code).toBe(0);
    // billing's tables are kept in a database ops retired: no longer said to stay in use.
    const list = await fx.billing.cli('retention', 'list');
    expect(list.stdout).toContain('4 moved tables (in a database another split retired)');
    expect(list.stdout).not.toContain('the database stays in use');
    const later = new Date(Date.now() + 8 * DAY).toISOString();
    const exists = async () => (await query(pg15(), `SELECT 1 FROM pg_database WHERE datname = $1`, [fx.sourceDb])).length === 1;

    // billing's backup in that database was never verified: the database stays, and says why; the preview
    // without --yes says the same (it said "would drop").
    const preview = await fx.ops.cli('retention', 'prune', '--now', later);
    expect(preview.code, preview.stdout + preview.stderr).toBe(1);
    expect(preview.stdout).toContain(`dropping the database would drop another split's backup too: split ${fx.billing.name} keeps its backup`);
    expect(preview.stdout).not.toContain('still marked as this split\'s backup: drops the database');
    const refused = await fx.ops.cli('retention', 'prune', '--yes', '--now', later);
    expect(refused.code, refused.stdout + refused.stderr).toBe(1);
    expect(refused.stdout).toContain(`dropping the database would drop another split's backup too: split ${fx.billing.name} keeps its backup of 4 moved tables in it, which may not go yet (expired, but no \`verify --checksums\` run passed since the split finished)`);
    expect(await exists()).toBe(true);

    // Verified, it may go: the database goes, and billing's backup is marked pruned with it.
    expect((await fx.billing.cli('verify', '--checksums')).code).toBe(0);
    const seen = await fx.ops.cli('retention', 'prune', '--now', later);
    expect(seen.stdout).toContain(`drops the database, with the backups other splits kept in it: split ${fx.billing.name} (4 moved tables)`);
    const pruned = await fx.ops.cli('retention', 'prune', '--yes', '--now', later);
    expect(pruned.code, pruned.stdout + pruned.stderr).toBe(0);
    expect(pruned.stdout).toContain(`, with the backups other splits kept in it (marked pruned too): split ${fx.billing.name} (4 moved tables)`);
    expect(await exists()).toBe(false);
    const listed = JSON.parse((await fx.billing.cli('retention', 'list', '--json')).stdout) as ListJson[];
    expect(listed.map((b) => [b.split, b.state]).sort()).toEqual([[fx.billing.name, 'pruned'], [fx.ops.name, 'pruned']].sort());
  });
});
