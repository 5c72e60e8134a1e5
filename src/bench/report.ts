import type { ContenderOutcome } from './contender.js';
import { medianIndex, summarize, type Summary } from './stats.js';
import type { TablePhases } from './table-phases.js';

/** One run of one contender. A contender that was skipped or failed has `outcome` null and says why. */
export interface ContenderRun {
  key: string;
  name: string;
  skipped: string | null;
  error: string | null;
  /** Every moved table has the source's row count on the target. */
  rowsOk: boolean;
  /** Target WAL written during the run (pg_current_wal_lsn difference). */
  walBytes: number | null;
  /** Moved heap + TOAST megabytes (10^6) per second of total time. */
  mbPerSec: number | null;
  outcome: ContenderOutcome | null;
}

/**
 * A contender's runs at one scale. `total` and `verify` summarize the runs that
 * succeeded; `median` is the run whose total is the median (its phases, steps and
 * table breakdown are the ones shown). Ratios are of medians: `ratioToRaw` over the
 * raw pipe's (a), `ratioToBestPeer` over the fastest peer's (b, c, d); below 1 is faster.
 */
export interface ContenderReport {
  key: string;
  name: string;
  skipped: string | null;
  /** The first error, when a run failed. */
  error: string | null;
  /** Every run that finished moved every row. */
  rowsOk: boolean;
  total: Summary | null;
  verify: Summary | null;
  /** The largest peak RSS of the CLI over the runs (apply, and verify). */
  peakRssKb: number | null;
  verifyPeakRssKb: number | null;
  walBytes: number | null;
  mbPerSec: number | null;
  ratioToRaw: number | null;
  ratioToBestPeer: number | null;
  median: ContenderRun | null;
  runs: ContenderRun[];
}

/** Ratios of medians at one scale (null when a contender needed for one did not run). */
export interface ScaleRatios {
  applyToRaw: number | null;
  applyToRestore: number | null;
  verifyToApply: number | null;
}

export interface ScaleReport {
  scale: number;
  /** Runs of each contender at this scale. */
  runs: number;
  dataset: {
    tables: number;
    movedTables: number;
    movedBytes: number;
    movedRows: number;
    largestTable: { name: string; bytes: number; rows: number };
    generateMs: number;
  };
  contenders: ContenderReport[];
  ratios: ScaleRatios;
}

export interface Goal {
  goal: string;
  value: number | null;
  limit: number;
  met: boolean | null;
}

/** What `npm run bench -- --json` prints. */
export interface BenchReport {
  /** When the run ended (ISO 8601). */
  date: string;
  machine: { nproc: number; cpu: string; memoryMb: number; postgres: string; node: string; loadAverage: number[] };
  jobs: number;
  runs: number;
  settings: Record<string, string>;
  scales: ScaleReport[];
  goals: Goal[];
}

const PEERS = ['b', 'c', 'd'];
const maxOf = (values: Array<number | null | undefined>) => {
  const v = values.filter((x): x is number => typeof x === 'number');
  return v.length ? Math.max(...v) : null;
};

/** Summarizes a contender's runs at one scale (ratios are filled by compareTo). */
export function summarizeRuns(key: string, name: string, runs: ContenderRun[]): ContenderReport {
  const ok = runs.filter((r) => r.outcome && !r.error);
  const totals = ok.map((r) => r.outcome!.phases.total);
  const verifies = ok.map((r) => r.outcome!.verify?.ms).filter((v): v is number => typeof v === 'number');
  const median = ok.length ? ok[medianIndex(totals)]! : null;
  return {
    key,
    name,
    skipped: runs.find((r) => r.skipped)?.skipped ?? null,
    error: runs.find((r) => r.error)?.error ?? null,
    rowsOk: ok.length > 0 && ok.every((r) => r.rowsOk),
    total: summarize(totals),
    verify: summarize(verifies),
    peakRssKb: maxOf(ok.map((r) => r.outcome!.peakRssKb)),
    verifyPeakRssKb: maxOf(ok.map((r) => r.outcome!.verify?.peakRssKb)),
    walBytes: median?.walBytes ?? null,
    mbPerSec: median?.mbPerSec ?? null,
    ratioToRaw: null,
    ratioToBestPeer: null,
    median,
    runs,
  };
}

const medianOf = (r: ContenderReport | undefined) => r?.total?.median ?? null;

/** Fills each contender's ratios to the raw pipe and to the best peer (medians). */
export function compareTo(reports: ContenderReport[]): void {
  const raw = medianOf(reports.find((r) => r.key === 'a'));
  const peers = reports.filter((r) => PEERS.includes(r.key)).map(medianOf).filter((t): t is number => t !== null);
  const best = peers.length ? Math.min(...peers) : null;
  for (const r of reports) {
    const t = medianOf(r);
    if (t === null) continue;
    r.ratioToRaw = raw ? t / raw : null;
    r.ratioToBestPeer = best ? t / best : null;
  }
}

export function ratios(reports: ContenderReport[]): ScaleRatios {
  const by = (k: string) => reports.find((r) => r.key === k);
  const e = medianOf(by('e'));
  const over = (other: string) => {
    const t = medianOf(by(other));
    return e !== null && t ? e / t : null;
  };
  const verify = by('e')?.verify?.median ?? null;
  return { applyToRaw: over('a'), applyToRestore: over('b'), verifyToApply: verify !== null && e ? verify / e : null };
}

/** Limits of the goals (docs/benchmarks.md). */
export const LIMITS = { applyToRaw: 0.75, applyToRestore: 0.8, rawRatioGrowth: 1.1, verifyToApply: 0.15, rssMb: 150 } as const;

/** The performance goals at every scale, from the medians (null when a contender needed for one did not run). */
export function goals(scales: ScaleReport[]): Goal[] {
  const list: Array<Omit<Goal, 'met'>> = [];
  for (const s of scales) list.push({ goal: `apply / raw pipe (a), scale ${s.scale}`, value: s.ratios.applyToRaw, limit: LIMITS.applyToRaw });
  const withRaw = scales.filter((s) => s.ratios.applyToRaw !== null).sort((a, b) => a.scale - b.scale);
  if (withRaw.length > 1) {
    const first = withRaw[0]!;
    const last = withRaw[withRaw.length - 1]!;
    list.push({ goal: `apply / raw pipe at scale ${last.scale} over the same at scale ${first.scale} (must not grow)`, value: last.ratios.applyToRaw! / first.ratios.applyToRaw!, limit: LIMITS.rawRatioGrowth });
  }
  for (const s of scales) list.push({ goal: `apply / pg_dump -Fd + pg_restore (b), scale ${s.scale}`, value: s.ratios.applyToRestore, limit: LIMITS.applyToRestore });
  for (const s of scales) list.push({ goal: `verify --checksums / apply, scale ${s.scale}`, value: s.ratios.verifyToApply, limit: LIMITS.verifyToApply });
  for (const s of scales) {
    const e = s.contenders.find((c) => c.key === 'e');
    const kb = maxOf([e?.peakRssKb, e?.verifyPeakRssKb]);
    list.push({ goal: `CLI peak RSS (apply and verify), MB, scale ${s.scale}`, value: kb === null ? null : kb / 1024, limit: LIMITS.rssMb });
  }
  return list.map((g) => ({ ...g, met: g.value === null ? null : g.value <= g.limit }));
}

const sec = (ms: number | null | undefined) => (ms === null || ms === undefined ? '-' : (ms / 1000).toFixed(1));
const num = (v: number | null, digits = 2) => (v === null ? '-' : v.toFixed(digits));
const mb = (bytes: number | null) => (bytes === null ? '-' : (bytes / 2 ** 20).toFixed(0));
const pct = (v: number | null | undefined) => (v === null || v === undefined ? '-' : `${Math.round(v * 100)}%`);

function pad(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}

/** A contender's journal step times (its median run): one line per step kind, one per copy of the largest table. */
function stepLines(c: ContenderReport): string[] {
  const t = c.median?.outcome?.steps;
  if (!t) return [];
  const rows = [[`(${c.key})   step kind`, 'steps', 'sum s', 'window s']];
  for (const k of t.kinds) rows.push([`(${c.key})   ${k.kind}`, String(k.count), sec(k.sumMs), sec(k.windowMs)]);
  const out = [`(${c.key}) steps by kind, median run (sum of durations; window from first start to last end):`, pad(rows)];
  for (const s of t.largest) {
    out.push(`(${c.key})   ${s.step}: ${sec(s.ms)} s, ${s.rows ?? '-'} rows${s.rows && s.ms ? ` (${Math.round(s.rows / (s.ms / 1000))} rows/s)` : ''}, ${s.binary === null ? '-' : s.binary ? 'binary' : 'text'}`);
  }
  return out;
}

/** The per-table phases of the median run (seconds). */
export function tableLines(key: string, tables: readonly TablePhases[] | undefined): string[] {
  if (!tables?.length) return [];
  const rows = [[`(${key})   table`, 'rows', 'MiB', 'start s', 'copy s', 'read s', 'write s', 'index s', 'wait s']];
  for (const t of tables) rows.push([`(${key})   ${t.table}`, String(t.rows), mb(t.bytes), sec(t.start), sec(t.copy), sec(t.read), sec(t.write), sec(t.index), sec(t.wait)]);
  return [
    `(${key}) per table, median run: copy = its copy steps' window; read / write = the time within it the relay waited on the source / on the target; index = its index steps' window (with VACUUM ANALYZE); wait = from its copy's end to its index builds' start:`,
    pad(rows),
  ];
}

function scaleLines(s: ScaleReport): string[] {
  const out: string[] = [];
  out.push(
    `scale ${s.scale}: ${s.dataset.tables} tables, ${s.dataset.movedTables} moved (${mb(s.dataset.movedBytes)} MiB heap+TOAST, ${s.dataset.movedRows} rows); ` +
      `largest ${s.dataset.largestTable.name} ${mb(s.dataset.largestTable.bytes)} MiB; generated in ${sec(s.dataset.generateMs)} s`,
  );
  const rows = [['contender', 'median s', 'min s', 'max s', 'spread', 'runs', 'x raw', 'x best peer', 'MB/s', 'WAL MiB', 'RSS MiB', 'rows']];
  for (const c of s.contenders) {
    const label = `(${c.key}) ${c.name}`;
    if (!c.total) {
      rows.push([label, c.skipped ? 'skipped' : 'FAILED', '', '', '', '', '', '', '', '', '', '']);
      continue;
    }
    const t = c.total;
    rows.push([label, sec(t.median), sec(t.min), sec(t.max), pct(t.spread), `${t.n}/${s.runs}`, num(c.ratioToRaw), num(c.ratioToBestPeer), num(c.mbPerSec, 0), mb(c.walBytes), c.peakRssKb === null ? '-' : (c.peakRssKb / 1024).toFixed(0), c.rowsOk ? 'ok' : 'DIFF']);
  }
  out.push(pad(rows));
  for (const c of s.contenders) {
    if (c.skipped) out.push(`(${c.key}) skipped: ${c.skipped}`);
    if (c.error) out.push(`(${c.key}) failed: ${c.error}`);
    if (c.verify) {
      const failed = c.runs.filter((r) => r.outcome?.verify && !r.outcome.verify.ok).length;
      out.push(
        `(${c.key}) verify --checksums: median ${sec(c.verify.median)} s (${sec(c.verify.min)}–${sec(c.verify.max)}, spread ${pct(c.verify.spread)}), ` +
          `${failed ? `DIFFERENCES in ${failed} runs` : 'no difference'}, peak RSS ${c.verifyPeakRssKb === null ? '-' : (c.verifyPeakRssKb / 1024).toFixed(0)} MiB`,
      );
    }
    const p = c.median?.outcome?.phases;
    if (p && c.key === 'e') out.push(`(${c.key}) median run: schema ${sec(p.schema)} s, copy window ${sec(p.data)} s, index window ${sec(p.indexes)} s, total ${sec(p.total)} s`);
    for (const n of c.median?.outcome?.notes ?? []) out.push(`(${c.key}) ${n}`);
    out.push(...stepLines(c));
    out.push(...tableLines(c.key, c.median?.outcome?.tables));
  }
  const r = s.ratios;
  out.push(`ratios at scale ${s.scale} (medians): apply / raw pipe ${num(r.applyToRaw)}; apply / pg_restore ${num(r.applyToRestore)}; verify / apply ${num(r.verifyToApply)}`);
  return out;
}

/** The human rendering: machine, then per scale the contenders and where apply's time went, then the goals. */
export function renderReport(r: BenchReport): string {
  const out: string[] = [];
  out.push(`date: ${r.date}`);
  out.push(`machine: ${r.machine.nproc} cores (${r.machine.cpu}), ${r.machine.memoryMb} MiB; ${r.machine.postgres}; node ${r.machine.node}; load average at the end ${r.machine.loadAverage.join(' ')}`);
  out.push(`settings (both clusters): ${Object.entries(r.settings).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  out.push(`jobs ${r.jobs}; runs of each contender per scale: ${r.scales.map((s) => `${s.runs} at ${s.scale}`).join(', ') || r.runs}, alternating (the order rotates each round); spread = (max - min) / median`);
  for (const s of r.scales) out.push('', ...scaleLines(s));
  out.push('', 'goals:');
  for (const g of r.goals) out.push(`  ${g.met === null ? '?' : g.met ? 'met' : 'MISSED'}  ${g.goal}: ${num(g.value)} (limit ${g.limit})`);
  return `${out.join('\n')}\n`;
}
