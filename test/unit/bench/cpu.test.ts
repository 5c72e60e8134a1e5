import { describe, expect, it } from 'vitest';
import { clusterCpuSeconds, cpuUse, measureCpu, parsePidStat, parseProcStat } from '../../../src/bench/cpu.js';
import { cpuLines, goalMark, goals, ratios, summarizeRuns, type ContenderRun, type ScaleReport } from '../../../src/bench/report.js';

const STAT = `cpu  1000 50 400 8000 300 20 30 200 0 0
cpu0 500 25 200 4000 150 10 15 100 0 0
intr 12345
`;

const run = (key: string, totalMs: number, coreSeconds: number | null, verify?: { ms: number; coreSeconds: number }): ContenderRun => ({
  key,
  name: key,
  skipped: null,
  error: null,
  rowsOk: true,
  walBytes: null,
  mbPerSec: null,
  outcome: {
    phases: { schema: null, data: null, indexes: null, total: totalMs },
    peakRssKb: null,
    notes: [],
    cpu: coreSeconds === null ? null : { coreSeconds, busyCores: coreSeconds / (totalMs / 1000) },
    ...(verify ? { verify: { ms: verify.ms, ok: true, peakRssKb: null, cpu: { coreSeconds: verify.coreSeconds, busyCores: verify.coreSeconds / (verify.ms / 1000) } } } : {}),
  },
});

describe('bench CPU accounting', () => {
  it('reads the aggregate line of /proc/stat: busy is user, nice, system, irq, softirq and steal; idle and iowait are not', () => {
    expect(parseProcStat(STAT)).toEqual({ busy: 1000 + 50 + 400 + 20 + 30 + 200, total: 1700 + 8000 + 300 });
    expect(parseProcStat('intr 1\n')).toBeNull();
  });

  it("reads a process's parent and CPU ticks from /proc/<pid>/stat, whatever its command name holds", () => {
    const fields = 'S 4242 4243 4243 0 -1 4194560 100 0 0 0 1500 250 70 30 20 0 1 0 5000 1000000 200';
    expect(parsePidStat(`4300 (postgres: bench) x) ${fields}`)).toEqual({ ppid: 4242, utime: 1500, stime: 250, cutime: 70, cstime: 30 });
    expect(parsePidStat('4300 (short) S 1')).toBeNull();
  });

  it('gives no cluster CPU for a directory without a running postmaster', async () => {
    expect(await clusterCpuSeconds('/nonexistent-cluster')).toBeNull();
  });

  it('measures a share of all ticks, so the tick rate does not matter', () => {
    // 2 cores, 10 s: 1,000 of 2,000 ticks busy (100 Hz) or 10,000 of 20,000 (1000 Hz) is one core busy, 10 core-seconds.
    for (const hz of [100, 1000]) {
      const u = cpuUse({ busy: 0, total: 0 }, { busy: 10 * hz, total: 20 * hz }, 10_000, 2)!;
      expect(u.busyCores).toBeCloseTo(1, 9);
      expect(u.coreSeconds).toBeCloseTo(10, 9);
    }
    expect(cpuUse(null, { busy: 1, total: 2 }, 1000, 2)).toBeNull();
    expect(cpuUse({ busy: 1, total: 2 }, { busy: 1, total: 2 }, 1000, 2)).toBeNull();
  });

  it('measures real work on this machine', async () => {
    const { result, cpu } = await measureCpu(1, async () => {
      const end = performance.now() + 300;
      let n = 0;
      while (performance.now() < end) n++;
      return n;
    });
    expect(result).toBeGreaterThan(0);
    // One core spun for 0.3 s: on a one-core scale the machine was at least partly busy.
    expect(cpu!.coreSeconds).toBeGreaterThan(0.05);
    expect(cpu!.busyCores).toBeLessThanOrEqual(1.0001);
  });

  it('divides the work by the cores into a floor for apply / raw pipe and verify / apply, printed as information', () => {
    // Raw pipe 10 s; apply 12 s using 16 core-seconds on 2 cores: it could not take less than 8 s here, 0.8 of the pipe.
    const withSides = run('a', 10_000, 15);
    withSides.outcome!.cpu = { ...withSides.outcome!.cpu!, source: 4, target: 8.5 };
    const reports = [summarizeRuns('a', 'a', [withSides]), summarizeRuns('e', 'e', [run('e', 12_000, 16, { ms: 3000, coreSeconds: 4 })])];
    const r = ratios(reports, 2);
    expect(r.applyCpuFloorToRaw).toBeCloseTo(0.8, 9);
    expect(r.verifyCpuFloorToApply).toBeCloseTo(2 / 12, 9);
    const s: ScaleReport = {
      scale: 1,
      runs: 1,
      dataset: { tables: 1, movedTables: 1, movedBytes: 1, movedRows: 1, largestTable: { name: 'events', bytes: 1, rows: 1 }, generateMs: 1 },
      contenders: reports,
      ratios: r,
    };
    const marks = Object.fromEntries(goals([s]).map((g) => [g.goal, [goalMark(g), g.value]]));
    expect(marks["apply's CPU time / cores over the raw pipe's time, scale 1 (the least apply / raw pipe can be here)"]).toEqual(['info', r.applyCpuFloorToRaw]);
    expect(marks["verify's CPU time / cores over apply's time, scale 1 (the least verify / apply can be here)"]).toEqual(['info', r.verifyCpuFloorToApply]);
    const lines = cpuLines(s, 2).join('\n');
    expect(lines).toContain('(a) 15.0 core-s (source server 4.0, target server 8.5, tools and the rest 2.5), 1.50 of 2 cores busy on average');
    expect(lines).toContain('(e) apply 16.0 core-s, 1.33 of 2 cores busy on average; (e) verify 4.0 core-s, 1.33 of 2 cores busy on average');
    expect(lines).toContain("apply's CPU time over 2 cores is 0.80× the raw pipe's median");
  });

  it('claims no floor where the CPU was not measured (reports of older builds)', () => {
    const reports = [summarizeRuns('a', 'a', [run('a', 10_000, null)]), summarizeRuns('e', 'e', [run('e', 12_000, null)])];
    const r = ratios(reports, 2);
    expect(r.applyCpuFloorToRaw).toBeNull();
    expect(r.verifyCpuFloorToApply).toBeNull();
    const s: ScaleReport = { scale: 1, runs: 1, dataset: { tables: 1, movedTables: 1, movedBytes: 1, movedRows: 1, largestTable: { name: 'e', bytes: 1, rows: 1 }, generateMs: 1 }, contenders: reports, ratios: r };
    expect(goals([s]).some((g) => g.goal.includes('CPU time'))).toBe(false);
    expect(cpuLines(s, 2)).toEqual([]);
  });
});
