import { describe, expect, it } from 'vitest';
import { goalMark, goals, renderReport, type BenchReport, type ContenderReport, type ScaleReport } from '../../../src/bench/report.js';
import type { SchemaBenchResult, SchemaSizeResult } from '../../../src/bench/schema-heavy.js';

const contender = (key: string, n: number, peakRssKb: number | null = null): ContenderReport => ({
  key,
  name: key,
  skipped: null,
  error: null,
  rowsOk: true,
  total: { median: 10, min: 9, max: 11, spread: 0.2, n },
  verify: null,
  peakRssKb,
  verifyPeakRssKb: null,
  walBytes: null,
  mbPerSec: null,
  ratioToRaw: null,
  ratioToBestPeer: null,
  median: null,
  runs: [],
});

const scale = (s: number, runs: number, applyToRaw: number, verifyToApply: number, rssMb: number): ScaleReport => ({
  scale: s,
  runs,
  dataset: { tables: 1, movedTables: 1, movedBytes: 1, movedRows: 1, largestTable: { name: 'events', bytes: 1, rows: 1 }, generateMs: 1 },
  contenders: [contender('a', runs), contender('e', runs, rssMb * 1024)],
  ratios: { applyToRaw, applyToRestore: null, verifyToApply },
});

const size = (tables: number, dump: number, apply: number, steps: number): SchemaSizeResult => ({
  tables,
  indexes: 0,
  foreignKeys: 0,
  steps,
  dumpMs: [dump],
  applyMs: [apply],
  kinds: [],
  runMs: [apply],
});

const byName = (list: ReturnType<typeof goals>) => Object.fromEntries(list.map((g) => [g.goal, goalMark(g)]));

describe('bench goals', () => {
  it('judges the headline ratio at scale 1 only as a median of three, and each pair of scales for growth', () => {
    const marks = byName(goals([scale(1, 3, 0.7, 0.1, 140), scale(0.3, 3, 0.8, 0.2, 120), scale(3, 1, 0.72, 0.1, 160)]));
    expect(marks).toMatchObject({
      'apply / raw pipe (a), scale 0.3, median of 3 runs': 'info',
      'apply / raw pipe (a), scale 1, median of 3 runs': 'PASS',
      'apply / raw pipe (a), scale 3, median of 1 run': 'info',
      'apply / raw pipe at scale 1 over the same at scale 0.3 (must not grow)': 'PASS',
      'apply / raw pipe at scale 3 over the same at scale 1 (must not grow)': 'PASS',
      'verify --checksums / apply, scale 0.3': 'MISS',
      'verify --checksums / apply, scale 1': 'PASS',
      'CLI peak RSS (apply and verify), MiB, scale 3': 'MISS',
      'copy: server / copy relay, two target clusters': 'NOT MEASURED',
    });
    // The schema goals are listed only when the schema benchmark was asked for.
    expect(Object.keys(marks).some((g) => g.startsWith('schema-only'))).toBe(false);
  });

  it('never passes the scale-1 goal on fewer than three runs', () => {
    const g = goals([scale(1, 1, 0.5, 0.1, 100)]).find((x) => x.goal.startsWith('apply / raw pipe (a), scale 1'))!;
    expect(goalMark(g)).toBe('NOT MEASURED');
    expect(g.note).toContain('median of 3 runs');
  });

  it('judges the schema-heavy ratio at 1,000 tables and the growth of the cost per step', () => {
    const schema: SchemaBenchResult = {
      sizes: [size(250, 30_000, 36_000, 563), size(1000, 100_000, 80_000, 2063), size(4000, 450_000, 110_000, 8063)],
      journal: { steps: 1000, batch: 50, perStepMs: 20, batchedMs: 0.5 },
    };
    const list = goals([], schema);
    expect(byName(list)).toMatchObject({
      'schema-only apply / pg_dump -s | psql, 1000 tables, median of 1': 'PASS',
      'schema-only apply / pg_dump -s | psql, 250 tables': 'info',
      'schema-only apply, ms per step, 4000 tables (8063 steps)': 'info',
      'schema-only apply, ms per step at 4000 tables over 250 (must not grow)': 'PASS',
      'apply / raw pipe (a), scale 1, median of 3 runs': 'NOT MEASURED',
    });
    expect(list.find((g) => g.goal.includes('1000 tables, median'))!.value).toBeCloseTo(0.8, 6);
    const missing = byName(goals([], { sizes: [size(250, 1, 2, 10)], journal: schema.journal }));
    expect(missing['schema-only apply / pg_dump -s | psql, 1000 tables']).toBe('NOT MEASURED');
    const report: BenchReport = {
      date: 'd',
      machine: { nproc: 2, cpu: 'x', memoryMb: 1, postgres: 'PostgreSQL 15', node: 'v20', loadAverage: [1, 1, 1] },
      jobs: 2,
      runs: 3,
      settings: {},
      scales: [],
      schema,
      goals: list,
    };
    const text = renderReport(report);
    expect(text).toMatch(/^ {2}PASS +schema-only apply \/ pg_dump -s \| psql, 1000 tables, median of 1: 0\.80 \(limit 1\)$/m);
    expect(text).toMatch(/^ +1000 +0 +0 +2063 /m);
  });
});
