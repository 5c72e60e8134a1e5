import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPlanFile } from '../../src/plan/plan-file.js';
import type { Plan } from '../../src/plan/model.js';
import { stepOrderProblems } from '../../src/plan/step-order.js';
import { stepsOf } from '../../src/verify/plan-tables.js';
import { pg15, query, servers } from '../harness/servers.js';
import { schemaDifferences, schemaDump } from './helpers/schema-dump.js';
import { BUILD_LEAVES, partitionSplit, type PartitionSplit } from './partitions-fixture.js';

interface VerifyJson {
  ok: boolean;
  checks: Array<{ kind: string; service?: string; table?: string; ok: boolean; source?: unknown; target?: unknown; detail: string }>;
}

/** Runs one statement in a transaction that is rolled back: its SQLSTATE, or 'ok'. */
async function attempt(url: string, sql: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('BEGIN');
    await c.query(sql);
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  } finally {
    await c.query('ROLLBACK').catch(() => undefined);
    await c.end();
  }
}

/** The error a write gets in a READ WRITE transaction (the backup is read-only by default), rolled back; null when it succeeds. */
async function refusal(url: string, sql: string): Promise<string | null> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('BEGIN READ WRITE');
    await c.query(sql);
    return null;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await c.query('ROLLBACK').catch(() => undefined);
    await c.end();
  }
}

/** Writes the source refuses (or accepts) for reasons of its schema: NOT NULL without default, CHECK, partition bounds. */
const WRITES: Record<string, string> = {
  'partition without id default': `INSERT INTO gitlab_partitions_dynamic.ci_builds_103 (partition_id, pipeline_id, project_id, name, status, created_at) VALUES (103, 1, 1, 'x', 's', now())`,
  'partition without name default': `INSERT INTO gitlab_partitions_dynamic.ci_builds_103 (id, partition_id, pipeline_id, project_id, status, created_at) VALUES (10000, 103, 1, 1, 's', now())`,
  "partition's own NOT NULL": `INSERT INTO gitlab_partitions_dynamic.ci_builds_103 (id, partition_id, pipeline_id, project_id, name, created_at) VALUES (10000, 103, 1, 1, 'x', now())`,
  "partition's own NOT NULL through the parent": `INSERT INTO public.p_ci_builds (partition_id, pipeline_id, project_id) VALUES (103, 1, 1)`,
  "partition's own check": `INSERT INTO gitlab_partitions_dynamic.ci_builds_103 (id, partition_id, pipeline_id, project_id, name, status, created_at) VALUES (10000, 103, 1, 1, repeat('x', 60), 's', now())`,
  "parent's check, merged into the attached partition's": `INSERT INTO gitlab_partitions_dynamic.ci_builds_103 (id, partition_id, pipeline_id, project_id, name, status, created_at) VALUES (10000, 103, 1, 1, '', 's', now())`,
  "parent's check on a partition": `INSERT INTO gitlab_partitions_dynamic.ci_builds_100 (partition_id, pipeline_id, project_id, name) VALUES (100, 1, 1, '')`,
  'a valid row into the attached partition': `INSERT INTO gitlab_partitions_dynamic.ci_builds_103 (id, partition_id, pipeline_id, project_id, name, status, created_at) VALUES (10000, 103, 1, 1, 'x', 's', now())`,
  'list bound': `INSERT INTO gitlab_partitions_dynamic.ci_builds_100 (partition_id, pipeline_id, project_id) VALUES (101, 1, 1)`,
  'range bound of a sub-partition': `INSERT INTO gitlab_partitions_dynamic.ci_builds_101_low (id, partition_id, pipeline_id, project_id) VALUES (500, 101, 1, 1)`,
  'check of a plain table': `INSERT INTO public.ci_pipelines (project_id, status) VALUES (1, 'bogus')`,
  'insert through the parent': `INSERT INTO public.p_ci_builds (partition_id, pipeline_id, project_id) VALUES (100, 1, 1)`,
  'insert into a partition with the defaults': `INSERT INTO gitlab_partitions_dynamic.ci_builds_100 (partition_id, pipeline_id, project_id) VALUES (100, 1, 1)`,
};

async function writeOutcomes(url: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, sql] of Object.entries(WRITES)) out[name] = await attempt(url, sql);
  return out;
}

async function leafCounts(url: string): Promise<Record<string, number>> {
  const rows = await query<{ leaf: string; n: number }>(
    url,
    `SELECT format('%s.%s', n.nspname, c.relname) AS leaf, count(*)::int AS n
       FROM public.p_ci_builds b JOIN pg_class c ON c.oid = b.tableoid JOIN pg_namespace n ON n.oid = c.relnamespace GROUP BY 1`,
  );
  return Object.fromEntries(rows.map((r) => [r.leaf, r.n]).sort());
}

async function verify(s: PartitionSplit): Promise<{ code: number; report: VerifyJson }> {
  const r = await s.cli('verify', '--checksums', '--json');
  return { code: r.code, report: JSON.parse(r.stdout) as VerifyJson };
}

const failed = (report: VerifyJson) => report.checks.filter((c) => !c.ok);

const SOURCES: Array<[string, () => string]> = [
  ['15', pg15],
  ['18', () => servers().main],
];

describe.each(SOURCES)('a partitioned table whose partitions live in another schema, from PostgreSQL %s to 18', (_major, sourceServer) => {
  let s: PartitionSplit;
  let plan: Plan;
  let sourceWrites: Record<string, string>;
  let sourceLeaves: Record<string, number>;

  beforeAll(async () => {
    s = await partitionSplit(sourceServer(), servers().main);
    // Before apply: the fence would refuse every write afterwards.
    sourceWrites = await writeOutcomes(s.sourceUrl);
    sourceLeaves = await leafCounts(s.sourceUrl);
    const planned = await s.cli('plan', '-o', s.planFile);
    expect(planned.code, planned.stderr).toBe(0);
    plan = await readPlanFile(s.planFile);
    const applied = await s.cli('apply', s.planFile, '--yes', '--jobs', '2');
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
  });
  afterAll(async () => {
    await s?.cleanup();
  });

  it('plans the parent with the rows of all its partitions and copies every leaf, whatever its schema', () => {
    expect(Object.values(sourceLeaves).reduce((a, b) => a + b, 0)).toBe(120);
    const ci = plan.services.find((x) => x.name === 'ci')!;
    expect(ci.tables.find((t) => t.name === 'public.p_ci_builds')?.rowsEstimate).toBe(120);
    expect(ci.tables.find((t) => t.name === 'public.p_ci_builds_metadata')?.rowsEstimate).toBe(50);
    const copied = stepsOf(plan, 'copy_data').map((c) => c.table);
    expect(copied).toEqual(expect.arrayContaining([...BUILD_LEAVES, 'gitlab_partitions_dynamic.ci_builds_metadata_100', 'gitlab_partitions_dynamic.ci_builds_metadata_102']));
    const schema = stepsOf(plan, 'create_schema').find((x) => x.service === 'ci')!;
    expect(schema.sql).toContain('CREATE SCHEMA IF NOT EXISTS "gitlab_partitions_dynamic"');
    const fence = stepsOf(plan, 'fence_source').find((f) => f.service === 'ci')!;
    expect(fence.tables).toEqual(expect.arrayContaining(['public.p_ci_builds', 'gitlab_partitions_dynamic.ci_builds_101', ...BUILD_LEAVES]));
    expect(stepOrderProblems(plan)).toEqual([]);
    expect(plan.warnings).toEqual([
      `ci: public.p_ci_builds moves with its 5 partitions in gitlab_partitions_dynamic (not in source.schemas); that schema is created in ${s.ciDb}`,
      `ci: public.p_ci_builds_metadata moves with its 2 partitions in gitlab_partitions_dynamic (not in source.schemas); that schema is created in ${s.ciDb}`,
    ]);
  });

  it('moves all 120 builds, each into the partition it had in the source', async () => {
    expect(await leafCounts(s.ciUrl)).toEqual(sourceLeaves);
    const [{ n }] = (await query<{ n: number }>(s.ciUrl, 'SELECT count(*)::int AS n FROM public.p_ci_builds')) as [{ n: number }];
    expect(n).toBe(120);
  });

  it("gives the service's role the other schema and every partition in it", async () => {
    const owners = await query<{ what: string; owner: string }>(
      s.ciUrl,
      `SELECT 'schema ' || nspname AS what, pg_get_userbyid(nspowner)::text AS owner FROM pg_namespace WHERE nspname = 'gitlab_partitions_dynamic'
       UNION ALL
       SELECT 'table ' || relname, pg_get_userbyid(relowner)::text FROM pg_class WHERE relnamespace = 'gitlab_partitions_dynamic'::regnamespace AND relkind IN ('r', 'p')`,
    );
    expect(owners.length).toBe(8);
    expect(owners.filter((o) => o.owner !== s.ciRole)).toEqual([]);
    const [row] = await query<{ n: number }>(s.ciRoleUrl, 'SELECT count(*)::int AS n FROM public.p_ci_builds');
    expect(row!.n).toBe(120);
  });

  it('plans and applies a partitioned table without partitions: its index is built after its database exists', async () => {
    const step = stepsOf(plan, 'create_indexes').find((x) => x.table === 'public.p_ci_job_artifacts')!;
    expect(step.sql.join('\n')).toContain('index_p_ci_job_artifacts_on_file');
    expect(step.dependsOn).toContain(`create_schema:${s.ciDb}`);
    const idx = await query<{ indexname: string }>(s.ciUrl, `SELECT indexname FROM pg_indexes WHERE tablename = 'p_ci_job_artifacts'`);
    expect(idx.map((r) => r.indexname)).toEqual(['index_p_ci_job_artifacts_on_file']);
  });

  it('gives a partition that had none of its parent\'s defaults none in the target either', async () => {
    const defaults = await query<{ table_name: string; column_name: string; column_default: string | null }>(
      s.ciUrl,
      `SELECT table_name::text, column_name::text, column_default::text FROM information_schema.columns
        WHERE table_name IN ('ci_builds_100', 'ci_builds_103') AND column_name IN ('id', 'name', 'created_at') ORDER BY 1, 2`,
    );
    expect(defaults.filter((d) => d.table_name === 'ci_builds_103').map((d) => d.column_default)).toEqual([null, null, null]);
    expect(defaults.filter((d) => d.table_name === 'ci_builds_100').every((d) => d.column_default !== null)).toBe(true);
  });

  it('refuses in the target exactly the writes the source refuses', async () => {
    expect(sourceWrites).toEqual({
      'partition without id default': '23502',
      'partition without name default': '23502',
      "partition's own NOT NULL": '23502',
      "partition's own NOT NULL through the parent": '23502',
      "partition's own check": '23514',
      "parent's check, merged into the attached partition's": '23514',
      "parent's check on a partition": '23514',
      'a valid row into the attached partition': 'ok',
      'list bound': '23514',
      'range bound of a sub-partition': '23514',
      'check of a plain table': '23514',
      'insert through the parent': 'ok',
      'insert into a partition with the defaults': 'ok',
    });
    expect(await writeOutcomes(s.ciUrl)).toEqual(sourceWrites);
  });

  it('fences the partitions in the other schema too: writes through the parent and into them fail, naming the new database', async () => {
    for (const sql of [
      WRITES['insert through the parent']!,
      WRITES['insert into a partition with the defaults']!,
      'DELETE FROM gitlab_partitions_dynamic.ci_builds_101_low',
      'UPDATE public.p_ci_builds SET status = $$x$$ WHERE partition_id = 103',
    ]) {
      expect(await refusal(s.sourceUrl, sql), sql).toContain(`has moved to database ${s.ciDb}`);
    }
    expect(await leafCounts(s.sourceUrl)).toEqual(sourceLeaves);
  });

  it('verifies the clean split, the automatic copies of a dropped key to the partitions included', async () => {
    const { code, report } = await verify(s);
    expect(failed(report)).toEqual([]);
    expect(code).toBe(0);
    const parent = report.checks.find((c) => c.kind === 'rowcount' && c.table === 'public.p_ci_builds')!;
    expect(parent).toMatchObject({ ok: true, source: 120, target: 120 });
    for (const leaf of BUILD_LEAVES) expect(report.checks.find((c) => c.kind === 'checksum' && c.table === leaf)?.ok, leaf).toBe(true);
    const stats = report.checks.find((c) => c.kind === 'schema' && c.table === 'public.project_build_stats')!;
    expect(stats.detail).toContain('1 dropped foreign key left out');
  });

  it('exits 1 naming a row deleted from a partition in the other schema, then a partition detached, then dropped', async () => {
    const [row] = await query<{ r: unknown }>(s.ciUrl, `DELETE FROM gitlab_partitions_dynamic.ci_builds_103 WHERE id = (SELECT min(id) FROM gitlab_partitions_dynamic.ci_builds_103) RETURNING to_json(ci_builds_103) AS r`);
    let { code, report } = await verify(s);
    expect(code).toBe(1);
    expect(failed(report).find((c) => c.kind === 'rowcount' && c.table === 'gitlab_partitions_dynamic.ci_builds_103')?.detail).toContain('1 missing in');
    expect(failed(report).find((c) => c.kind === 'rowcount' && c.table === 'public.p_ci_builds')?.detail).toContain(
      'partition gitlab_partitions_dynamic.ci_builds_103: source 20, target 19 rows',
    );
    await query(s.ciUrl, `INSERT INTO gitlab_partitions_dynamic.ci_builds_103 SELECT * FROM json_populate_record(NULL::gitlab_partitions_dynamic.ci_builds_103, $1)`, [row!.r]);
    expect((await verify(s)).code).toBe(0);

    await query(s.ciUrl, 'ALTER TABLE public.p_ci_builds DETACH PARTITION gitlab_partitions_dynamic.ci_builds_default');
    ({ code, report } = await verify(s));
    expect(code).toBe(1);
    expect(failed(report).map((c) => `${c.kind} ${c.table}`)).toContain('rowcount public.p_ci_builds');
    expect(failed(report).find((c) => c.kind === 'rowcount' && c.table === 'public.p_ci_builds')?.detail).toContain(
      'partition gitlab_partitions_dynamic.ci_builds_default (20 rows in the source) is not a partition of public.p_ci_builds',
    );

    await query(s.ciUrl, 'DROP TABLE gitlab_partitions_dynamic.ci_builds_default');
    ({ code, report } = await verify(s));
    expect(code).toBe(1);
    const names = failed(report).map((c) => `${c.kind} ${c.table} ${c.detail}`).join('\n');
    expect(names).toContain('rowcount gitlab_partitions_dynamic.ci_builds_default');
    expect(names).toContain('partition gitlab_partitions_dynamic.ci_builds_default (20 rows in the source)');
  });

  it('fences a partition created in the source after the fence (as a job making the next partition does): a write straight into it fails too, a replica session\'s included', async () => {
    await query(s.sourceUrl, 'CREATE TABLE gitlab_partitions_dynamic.ci_builds_104 PARTITION OF public.p_ci_builds FOR VALUES IN (104)');
    try {
      const into = `INSERT INTO gitlab_partitions_dynamic.ci_builds_104 (id, partition_id, pipeline_id, project_id, name, status, created_at) VALUES (20000, 104, 1, 1, 'x', 's', now())`;
      expect(await refusal(s.sourceUrl, into)).toContain(`table gitlab_partitions_dynamic.ci_builds_104 has moved to database ${s.ciDb}`);
      expect(await refusal(s.sourceUrl, `SET LOCAL session_replication_role = replica; ${into}`)).toContain(`has moved to database ${s.ciDb}`);
      // The root carries the row fence PostgreSQL cloned onto the new partition, enabled for every session.
      const rows = await query<{ t: string; enabled: string; cloned: boolean }>(
        s.sourceUrl,
        `SELECT tgrelid::regclass::text AS t, tgenabled::text AS enabled, tgparentid <> 0 AS cloned FROM pg_trigger WHERE tgname = 'cloudphone_split_fence_rows' AND tgrelid IN ('public.p_ci_builds'::regclass, 'gitlab_partitions_dynamic.ci_builds_104'::regclass) ORDER BY 3`,
      );
      expect(rows).toEqual([
        { t: 'p_ci_builds', enabled: 'A', cloned: false },
        { t: 'gitlab_partitions_dynamic.ci_builds_104', enabled: 'A', cloned: true },
      ]);
      const { report } = await verify(s);
      expect(report.checks.filter((c) => c.kind === 'fence' && !c.ok)).toEqual([]);
      expect(report.checks.find((c) => c.kind === 'fence' && c.table === 'public.p_ci_builds')).toMatchObject({ ok: true });
      // The row fence disabled on the root: verify says so, with the statement that enables it again.
      await query(s.sourceUrl, 'ALTER TABLE public.p_ci_builds DISABLE TRIGGER cloudphone_split_fence_rows');
      const off = (await verify(s)).report.checks.find((c) => c.kind === 'fence' && c.table === 'public.p_ci_builds');
      expect(off).toMatchObject({ ok: false, detail: 'the row fence cloudphone_split_fence_rows is disabled (tgenabled D): ALTER TABLE "public"."p_ci_builds" ENABLE ALWAYS TRIGGER "cloudphone_split_fence_rows"' });
      await query(s.sourceUrl, 'ALTER TABLE public.p_ci_builds ENABLE ALWAYS TRIGGER cloudphone_split_fence_rows');
    } finally {
      await query(s.sourceUrl, 'ALTER TABLE public.p_ci_builds DETACH PARTITION gitlab_partitions_dynamic.ci_builds_104; DROP TABLE gitlab_partitions_dynamic.ci_builds_104');
    }
  });
});

describe('the same split within PostgreSQL 15: pg_dump sees the same tables', () => {
  let s: PartitionSplit;
  afterAll(async () => {
    await s?.cleanup();
  });

  it('dumps every moved table, partitions in both schemas included, as the source does (both ways), less the dropped keys', async () => {
    s = await partitionSplit(pg15(), pg15());
    const before = await schemaDump(s.sourceUrl);
    const planned = await s.cli('plan', '-o', s.planFile);
    expect(planned.code, planned.stderr).toBe(0);
    const plan = await readPlanFile(s.planFile);
    // A partition created after the plan (in the other schema) makes the plan stale: its rows would be left behind.
    await query(s.sourceUrl, 'CREATE TABLE gitlab_partitions_dynamic.ci_builds_104 PARTITION OF public.p_ci_builds FOR VALUES IN (104)');
    const stale = await s.cli('apply', s.planFile, '--yes');
    expect(stale.code, stale.stderr).toBe(4);
    expect(stale.stderr).toContain('gitlab_partitions_dynamic.ci_builds_104 (new partition of public.p_ci_builds)');
    await query(s.sourceUrl, 'ALTER TABLE public.p_ci_builds DETACH PARTITION gitlab_partitions_dynamic.ci_builds_104; DROP TABLE gitlab_partitions_dynamic.ci_builds_104');
    const applied = await s.cli('apply', s.planFile, '--yes');
    expect(applied.code, applied.stderr).toBe(0);
    const ci = await schemaDump(s.ciUrl);
    for (const leaf of BUILD_LEAVES) expect(ci).toContain(`CREATE TABLE "${leaf.replace('.', '"."')}"`);
    expect(ci).toContain('ALTER TABLE ONLY "public"."p_ci_builds" ATTACH PARTITION "gitlab_partitions_dynamic"."ci_builds_103" FOR VALUES IN');
    expect(schemaDifferences(before, ci, plan, s.ciDb)).toEqual([]);
    expect(schemaDifferences(before, await schemaDump(s.webUrl), plan, s.webDb)).toEqual([]);
    const { code, report } = await verify(s);
    expect(failed(report)).toEqual([]);
    expect(code).toBe(0);
  });
});
