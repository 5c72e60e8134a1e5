import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { runBench } from '../../src/bench/run-bench.js';
import { renderReport } from '../../src/bench/report.js';
import { PG15_BIN } from '../../src/bench/shell.js';
import { assertBuilt } from './helpers/cli.js';

describe('npm run bench, at a tiny scale with the fast contenders', () => {
  it('copies every moved table with the raw pipe and with apply, then verifies with checksums', async () => {
    expect(existsSync(`${PG15_BIN}/pg_ctl`), `the benchmark runs on PostgreSQL 15 from ${PG15_BIN}`).toBe(true);
    assertBuilt();
    const lines: string[] = [];
    const report = await runBench({ scale: 0.02, only: ['a', 'e'], jobs: 2, log: (m) => lines.push(m) });

    expect(report.dataset.tables).toBe(205);
    expect(report.dataset.movedTables).toBe(125);
    expect(report.dataset.movedRows).toBeGreaterThan(0);
    expect(report.contenders.map((c) => c.key)).toEqual(['a', 'e']);
    for (const c of report.contenders) {
      expect(c.error, `${c.key} failed:\n${lines.join('\n')}`).toBeNull();
      expect(c.rowsOk, `${c.key}: ${c.outcome?.notes.join('; ')}`).toBe(true);
      expect(c.outcome!.phases.total).toBeGreaterThan(0);
      expect(c.walBytes).toBeGreaterThan(0);
    }
    const apply = report.contenders.find((c) => c.key === 'e')!;
    expect(apply.outcome!.verify?.ok, apply.outcome!.notes.join('\n')).toBe(true);
    expect(apply.outcome!.peakRssKb).toBeGreaterThan(10_000);
    expect(apply.outcome!.phases.data).toBeGreaterThan(0);
    expect(apply.ratioToRaw).toBeGreaterThan(0);
    expect(report.goals.map((g) => g.goal)).toHaveLength(5);
    // Each step kind's time, and the copy of the largest table (with its denormalized column) in binary.
    const steps = apply.outcome!.steps!;
    expect(steps.kinds.map((k) => k.kind)).toEqual(expect.arrayContaining(['create_schema', 'copy_data', 'create_indexes']));
    expect(steps.kinds.find((k) => k.kind === 'copy_data')!.count).toBe(125);
    expect(steps.largest.map((c) => [c.step, c.rows, c.binary])).toEqual([['copy_data:bench_core:public.events', report.dataset.largestTable.rows, true]]);

    const text = renderReport(report);
    expect(text).toMatch(/\(a\) raw pipe .* ok$/m);
    expect(text).toMatch(/\(e\) cloudphone-split apply .* ok$/m);
    expect(text).toContain('verify --checksums');
    expect(text).toMatch(/^\(e\) {3}copy_data:bench_core:public\.events: [\d.]+ s, \d+ rows .*, binary$/m);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });
});
