import { afterAll, describe, expect, it } from 'vitest';
import { pg15, query, servers } from '../../harness/servers.js';
import { corpusSplit, planApplyVerify, type CorpusName, type CorpusSplit } from './real-corpus.js';
import { fullSchemaDump, oracleDifferences, roundTrip, tablesAndPartitions } from './strict-oracle.js';

/**
 * The tests every corpus of real schemas gets: on PostgreSQL 18, plan, apply and
 * `verify --checksums` all exit 0; within PostgreSQL 15 (whose pg_dump is on this
 * machine), the same, and the strict pg_dump oracle finds no difference; optionally a
 * split from 15 to 18.
 */
export function corpusSuite(corpus: CorpusName, opts: { on18?: boolean; from15to18?: boolean; timeout?: number; oracleSelfCheck?: boolean } = {}): void {
  const timeout = opts.timeout ?? 120_000;
  const splits: CorpusSplit[] = [];
  const extraDbs: Array<{ server: string; name: string }> = [];
  afterAll(async () => {
    for (const s of splits) await s.cleanup();
    for (const d of extraDbs) await query(d.server, `DROP DATABASE IF EXISTS "${d.name}" WITH (FORCE)`).catch(() => undefined);
  });

  describe(`the ${corpus} corpus`, () => {
    if (opts.on18 ?? true) it('on PostgreSQL 18: plan, apply and verify --checksums exit 0', async () => {
      const split = await corpusSplit(corpus, { source: servers().main });
      splits.push(split);
      const r = await planApplyVerify(split);
      expect(r.plan.code, r.text).toBe(0);
      expect(r.apply.code, r.text).toBe(0);
      expect(r.verify.code, r.text).toBe(0);
      expect(r.verify.stdout + r.verify.stderr, r.text).toMatch(/checksum/i);
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
      const refUrl = await roundTrip(split.sourceUrl, refName);
      const [reference, referenceTables] = await Promise.all([fullSchemaDump(refUrl), tablesAndPartitions(refUrl)]);
      const r = await planApplyVerify(split);
      expect(r.plan.code, r.text).toBe(0);
      expect(r.apply.code, r.text).toBe(0);
      expect(r.verify.code, r.text).toBe(0);
      const targets = new Map<string, string>();
      for (const s of split.services) targets.set(s.database, await fullSchemaDump(s.url));
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
          `differs in ${first.database}: DEFAULT public ${bare} name`,
          `missing in ${first.database}: COMMENT public TABLE ${bare}`,
          `only in ${first.database}: FUNCTION public not_in_the_source()`,
        ].sort(),
      );
    }, timeout);
  });
}
