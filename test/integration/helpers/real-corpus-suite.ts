import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { pg15, pg18Client, query, servers } from '../../harness/servers.js';
import { corpusSplit, planApplyVerify, type CorpusName, type CorpusSplit } from './real-corpus.js';
import { dumpSchema, fullSchemaDump, oracleDifferences, restoreSchema, tablesAndPartitions } from './strict-oracle.js';

export interface CorpusSuiteOptions {
  /** Split on PostgreSQL 18 (default true). */
  on18?: boolean;
  from15to18?: boolean;
  timeout?: number;
  /** After the oracle passes, check that it reports changes made to a service database. */
  oracleSelfCheck?: boolean;
  /**
   * Run against the clean split on PostgreSQL 18, after `verify` passed: the application's
   * own writes and the writes its schema refuses, then changes that `verify` must report.
   */
  afterSplit?: (split: CorpusSplit, service: (name: string) => string) => Promise<void>;
}

/**
 * The tests every corpus of real schemas gets: within PostgreSQL 18 and within
 * PostgreSQL 15, plan, apply and `verify --checksums` all exit 0 and the strict pg_dump
 * oracle (pg_dump of the server's own major) finds no difference; optionally a split
 * from 15 to 18.
 */
export function corpusSuite(corpus: CorpusName, opts: CorpusSuiteOptions = {}): void {
  const timeout = opts.timeout ?? 120_000;
  const splits: CorpusSplit[] = [];
  const extraDbs: Array<{ server: string; name: string }> = [];
  afterAll(async () => {
    // At once: each DROP DATABASE waits for a checkpoint, which drops running together share.
    await Promise.all([
      ...splits.map((s) => s.cleanup()),
      ...extraDbs.map((d) => query(d.server, `DROP DATABASE IF EXISTS "${d.name}" WITH (FORCE)`).catch(() => undefined)),
    ]);
  });

  describe(`the ${corpus} corpus`, () => {
    if (opts.on18 ?? true) it('on PostgreSQL 18: plan, apply and verify --checksums exit 0, and pg_dump 18 finds every service database as it shows the source', async () => {
      const split = await corpusSplit(corpus, { source: servers().main });
      splits.push(split);
      const client = pg18Client();
      const refName = `${split.prefix}ref`;
      extraDbs.push({ server: servers().main, name: refName });
      // The reference (the source before the split) is restored while the split runs.
      const dump = await dumpSchema(split.sourceUrl, client);
      const referenceReady = restoreSchema(split.sourceUrl, refName, dump, client).then((refUrl) => Promise.all([fullSchemaDump(refUrl, client), tablesAndPartitions(refUrl)]));
      referenceReady.catch(() => undefined);
      const r = await planApplyVerify(split);
      const [reference, referenceTables] = await referenceReady;
      expect(r.plan.code, r.text).toBe(0);
      expect(r.apply.code, r.text).toBe(0);
      expect(r.verify.code, r.text).toBe(0);
      expect(r.verify.stdout + r.verify.stderr, r.text).toMatch(/checksum/i);
      const targets = new Map<string, string>();
      const dumps = await Promise.all(split.services.map((s) => fullSchemaDump(s.url, client)));
      split.services.forEach((s, i) => targets.set(s.database, dumps[i]!));
      const problems = oracleDifferences({ reference, referenceTables, targets, plan: r.planData!, ignore: split.ignore });
      expect(problems, problems.join('\n\n')).toEqual([]);
      const service = (name: string): string => split.services.find((x) => x.name === name)!.url;
      await opts.afterSplit?.(split, service);
    }, timeout);

    if (opts.from15to18) {
      it('from PostgreSQL 15 to 18: plan, apply and verify --checksums exit 0', async () => {
        const split = await corpusSplit(corpus, { source: pg15(), targets: servers().main });
        splits.push(split);
        const r = await planApplyVerify(split);
        expect(r.plan.code, r.text).toBe(0);
        expect(r.apply.code, r.text).toBe(0);
        expect(r.verify.code, r.text).toBe(0);
      }, timeout);
    }

    it('within PostgreSQL 15: every service database is what pg_dump shows of the source, privileges and comments included', async () => {
      const split = await corpusSplit(corpus, { source: pg15() });
      splits.push(split);
      const refName = `${split.prefix}ref`;
      extraDbs.push({ server: pg15(), name: refName });
      // The reference is the source before the split: dumped now, restored (the slow half of
      // the round trip) into its own database while the split runs.
      const dump = await dumpSchema(split.sourceUrl);
      const referenceReady = restoreSchema(split.sourceUrl, refName, dump).then((refUrl) => Promise.all([fullSchemaDump(refUrl), tablesAndPartitions(refUrl)]));
      referenceReady.catch(() => undefined);
      const r = await planApplyVerify(split);
      const [reference, referenceTables] = await referenceReady;
      expect(r.plan.code, r.text).toBe(0);
      expect(r.apply.code, r.text).toBe(0);
      expect(r.verify.code, r.text).toBe(0);
      const targets = new Map<string, string>();
      const dumps = await Promise.all(split.services.map((s) => fullSchemaDump(s.url)));
      split.services.forEach((s, i) => targets.set(s.database, dumps[i]!));
      const problems = oracleDifferences({ reference, referenceTables, targets, plan: r.planData!, ignore: split.ignore });
      expect(problems, problems.join('\n\n')).toEqual([]);
      if (!opts.oracleSelfCheck) return;
      // The oracle itself: a comment removed, a default changed and a function added in one
      // service database are each reported, in both directions.
      const first = split.services[0]!;
      const table = r.planData!.services.find((s) => s.database === first.database)!.tables[0]!.name;
      await query(first.url, `COMMENT ON TABLE ${table} IS NULL; ALTER TABLE ${table} ALTER COLUMN name SET DEFAULT 'changed';
        CREATE FUNCTION public.not_in_the_source() RETURNS int LANGUAGE sql AS 'SELECT 1'`);
      targets.set(first.database, await fullSchemaDump(first.url));
      const found = oracleDifferences({ reference, referenceTables, targets, plan: r.planData!, ignore: split.ignore }).map((p) => p.split('\n')[0]);
      const bare = table.slice(table.indexOf('.') + 1);
      expect(found.sort()).toEqual(
        [
          `differs in ${first.database}: TABLE public ${bare}`,
          `missing in ${first.database}: COMMENT public TABLE "${bare}"`,
          `only in ${first.database}: FUNCTION public not_in_the_source()`,
        ].sort(),
      );
    }, timeout);
  });
}

/** Runs `sql` and returns the first column of its first row (as text). */
export async function scalar(url: string, sql: string): Promise<string | null> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = (await c.query(sql)) as pg.QueryResult | pg.QueryResult[];
    // Several statements: the last one's result.
    const rows = (Array.isArray(r) ? r[r.length - 1]! : r).rows as Array<Record<string, unknown>>;
    const v = rows[0] ? Object.values(rows[0])[0] : null;
    return v === null || v === undefined ? null : String(v);
  } finally {
    await c.end();
  }
}

/** Runs `sql` and returns the error message it fails with (fails the test when it succeeds). */
export async function refused(url: string, sql: string): Promise<string> {
  try {
    await query(url, sql);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`expected the target to refuse: ${sql}`);
}

/** `verify --checksums` after a change made to a service database: exit 1, and the output names `what`. */
export async function verifyReports(split: CorpusSplit, what: RegExp): Promise<void> {
  const r = await split.cli('verify', '--checksums');
  expect(r.code, r.stdout + r.stderr).toBe(1);
  expect(r.stdout + r.stderr).toMatch(what);
}
