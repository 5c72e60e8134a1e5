import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { runBench } from '../../src/bench/run-bench.js';
import { renderReport } from '../../src/bench/report.js';
import { PG15_BIN } from '../../src/bench/shell.js';
import { assertBuilt } from './helpers/cli.js';

/**
 * A smoke test: one run of each fast contender at one tiny scale, and every section the
 * report prints. The rotation of the order between rounds and the growth goal between two
 * scales are pure functions, tested in test/unit/bench/.
 */
describe('npm run bench, at a tiny scale with the fast contenders', () => {
  it('runs each contender once and reports medians, ratios and where apply spent its time', async () => {
    expect(existsSync(`${PG15_BIN}/pg_ctl`), `the benchmark runs on PostgreSQL 15 from ${PG15_BIN}`).toBe(true);
    assertBuilt();
    const lines: string[] = [];
    const report = await runBench({ scales: [0.02], runs: 1, only: ['a', 'e'], jobs: 2, log: (m) => lines.push(m) });

    expect(report.scales.map((s) => s.scale)).toEqual([0.02]);
    // The first round runs the contenders in their order.
    const order = lines.filter((l) => / running \(scale 0\.02, run \d of 1\)$/.test(l)).map((l) => l.slice(0, 3));
    expect(order).toEqual(['(a)', '(e)']);
    for (const s of report.scales) {
      expect(s.dataset.tables).toBe(205);
      expect(s.dataset.movedTables).toBe(125);
      expect(s.dataset.movedRows).toBeGreaterThan(0);
      expect(s.contenders.map((c) => c.key)).toEqual(['a', 'e']);
      for (const c of s.contenders) {
        expect(c.error, `${c.key} failed:\n${lines.join('\n')}`).toBeNull();
        expect(c.runs).toHaveLength(1);
        expect(c.rowsOk, `${c.key}: ${c.median?.outcome?.notes.join('; ')}`).toBe(true);
        expect(c.total!.n).toBe(1);
        expect(c.total!.min).toBeLessThanOrEqual(c.total!.median);
        expect(c.total!.median).toBeLessThanOrEqual(c.total!.max);
        expect(c.walBytes).toBeGreaterThan(0);
        // The machine's CPU over the copy: some of it busy, never more than all of its cores.
        const cpu = c.median!.outcome!.cpu!;
        expect(cpu.coreSeconds, `${c.key}: CPU over the copy`).toBeGreaterThan(0);
        expect(cpu.busyCores).toBeLessThanOrEqual(report.machine.nproc + 1e-6);
        // Of it, each cluster's server processes: both worked (the source read, the target wrote).
        expect(cpu.source, `${c.key}: the source server's CPU`).toBeGreaterThan(0);
        expect(cpu.target, `${c.key}: the target server's CPU`).toBeGreaterThan(0);
        expect(c.cpu!.median).toBe(cpu.coreSeconds);
      }
      const apply = s.contenders.find((c) => c.key === 'e')!;
      expect(apply.runs.every((r) => r.outcome!.verify?.ok), apply.median!.outcome!.notes.join('\n')).toBe(true);
      expect(apply.verify!.n).toBe(1);
      expect(apply.peakRssKb).toBeGreaterThan(10_000);
      expect(apply.verifyPeakRssKb).toBeGreaterThan(10_000);
      expect(s.ratios.applyToRaw).toBeCloseTo(apply.total!.median / s.contenders[0]!.total!.median, 6);
      expect(s.ratios.verifyToApply).toBeCloseTo(apply.verify!.median / apply.total!.median, 6);
      expect(s.ratios.applyToRestore).toBeNull();
      // apply's CPU (verify's measured apart) over the cores, against the pipe's time and apply's.
      expect(apply.verifyCpu!.median).toBeGreaterThan(0);
      expect(s.ratios.applyCpuFloorToRaw).toBeCloseTo((apply.cpu!.median * 1000) / report.machine.nproc / s.contenders[0]!.total!.median, 6);
      expect(s.ratios.verifyCpuFloorToApply).toBeCloseTo((apply.verifyCpu!.median * 1000) / report.machine.nproc / apply.total!.median, 6);
      // Each step kind's time, and the copy of the largest table (with its denormalized column) in binary.
      const steps = apply.median!.outcome!.steps!;
      expect(steps.kinds.map((k) => k.kind)).toEqual(expect.arrayContaining(['create_schema', 'copy_data', 'create_indexes']));
      expect(steps.kinds.find((k) => k.kind === 'copy_data')!.count).toBe(125);
      expect(steps.largest.map((c) => [c.step, c.rows, c.binary])).toEqual([['copy_data:bench_core:public.events', s.dataset.largestTable.rows, true]]);
      // Per table: the copy's waits on either side lie within its window; the 119 tables past the 6 largest are summed.
      const tables = apply.median!.outcome!.tables!;
      expect(tables).toHaveLength(7);
      expect(tables[6]).toMatchObject({ table: '119 other tables (summed)', tables: 119 });
      expect(tables.reduce((a, t) => a + t.rows, 0)).toBe(s.dataset.movedRows);
      for (const t of tables.slice(0, 6)) {
        expect(t.copy).toBeGreaterThan(0);
        // Each moment of the pipe counted once (src/pg/copy-relay.ts PipeWaits); the journal's three figures are rounded to 1 ms.
        expect(t.read + t.write).toBeLessThanOrEqual(t.copy + 1.5);
        expect(t.index).toBeGreaterThan(0);
      }
    }
    const quick = report.goals.map((g) => [g.goal, g.met === null ? null : 'judged', g.limit]);
    expect(quick).toEqual([
      ['apply / raw pipe (a), scale 0.02, median of 1 run', null, null],
      ['apply / raw pipe (a), scale 1, median of 3 runs', null, 0.75],
      ['apply / raw pipe growth with the scale (must not grow)', null, 1.1],
      ["apply's CPU time / cores over the raw pipe's time, scale 0.02 (the least apply / raw pipe can be here)", null, null],
      ['verify --checksums / apply, scale 0.02', 'judged', 0.15],
      ["verify's CPU time / cores over apply's time, scale 0.02 (the least verify / apply can be here)", null, null],
      ['CLI peak RSS (apply and verify), MiB, scale 0.02', 'judged', 150],
      ['copy: server / copy relay, two target clusters', null, null],
    ]);
    expect(report.schema).toBeNull();

    const text = renderReport(report);
    expect(text).toMatch(/^\(a\) raw pipe .* 1\/1 .* ok$/m);
    expect(text).toMatch(/^\(e\) cloudphone-split apply .* 1\/1 .* ok$/m);
    expect(text).toMatch(/^\(e\) verify --checksums: median [\d.]+ s/m);
    expect(text).toMatch(/^\(e\) median run: schema [\d.]+ s, copy window [\d.]+ s, index window [\d.]+ s, total [\d.]+ s$/m);
    expect(text).toMatch(/^\(a\) median run: schema [\d.]+ s, data [\d.]+ s, indexes and keys [\d.]+ s, total [\d.]+ s$/m);
    expect(text).toMatch(/^\(e\) {3}copy_data +125 +[\d.]+ +[\d.]+$/m);
    expect(text).toMatch(/^\(e\) {3}copy_data:bench_core:public\.events: [\d.]+ s, \d+ rows .*, binary$/m);
    expect(text).toMatch(/^\(e\) {3}public\.events +\d+ +\d+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+$/m);
    expect(text).toMatch(/^ratios at scale 0\.02 \(medians\): apply \/ raw pipe [\d.]+; apply \/ pg_restore -; verify \/ apply [\d.]+$/m);
    expect(text).toMatch(/^CPU of the whole machine \(both clusters and the tools\), median runs: \(a\) [\d.]+ core-s \(source server [\d.]+, target server [\d.]+, tools and the rest [\d.]+\), [\d.]+ of \d+ cores busy on average; \(e\) apply [\d.]+ core-s \(source server [\d.]+, .*; \(e\) verify [\d.]+ core-s \(source server [\d.]+, /m);
    expect(text).toMatch(/^ {2}apply's CPU time over \d+ cores is [\d.]+× the raw pipe's median/m);
    expect(text).toMatch(/^goals:$/m);
    // Goals not measured in this run are said so, never marked as passed.
    expect(text).toMatch(/^ {2}NOT MEASURED +apply \/ raw pipe \(a\), scale 1, median of 3 runs: - \(limit 0\.75\); scale 1 not run$/m);
    expect(text).toMatch(/^ {2}info +apply \/ raw pipe \(a\), scale 0\.02, median of 1 run: [\d.]+$/m);
    expect(text).toMatch(/^ {2}(PASS|MISS) +verify --checksums \/ apply, scale 0\.02: [\d.]+ \(limit 0\.15\)$/m);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  }, 900_000);
});
