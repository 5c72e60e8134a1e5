import type { ContenderOutcome } from './contender.js';
import type { CpuUse } from './cpu.js';
import { median as schemaMedian, renderSchemaReport, type SchemaBenchResult } from './schema-heavy.js';
import { renderCopyServerBench, type CopyServerBench } from './copy-server.js';
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
  /** The machine's busy core-seconds over the copy (apply's without its verify), and over verify; null where not measured. */
  cpu?: Summary | null;
  verifyCpu?: Summary | null;
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
  /**
   * apply's busy core-seconds over the machine's cores, over the raw pipe's median time:
   * the least apply / raw pipe could be on this machine doing the work it does, however
   * it were scheduled. Absent in reports of older builds.
   */
  applyCpuFloorToRaw?: number | null;
  /** The same for verify --checksums, over apply's median time. */
  verifyCpuFloorToApply?: number | null;
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

/**
 * One line of the goals. `limit` null: a figure printed for information (no pass or miss).
 * `met` null: not measured in this run (`note` says why); the report claims nothing then.
 */
export interface Goal {
  goal: string;
  value: number | null;
  limit: number | null;
  met: boolean | null;
  note?: string;
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
  /** The schema-heavy benchmark (`--only s`), null when not run. */
  schema: SchemaBenchResult | null;
  /** `copy: server` against the relay (`--only v`), null when not run (absent in reports of older builds). */
  copyServer?: CopyServerBench | null;
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
  const seconds = (v: Array<number | undefined>) => summarize(v.filter((x): x is number => typeof x === 'number'));
  const median = ok.length ? ok[medianIndex(totals)]! : null;
  return {
    key,
    name,
    skipped: runs.find((r) => r.skipped)?.skipped ?? null,
    error: runs.find((r) => r.error)?.error ?? null,
    rowsOk: ok.length > 0 && ok.every((r) => r.rowsOk),
    total: summarize(totals),
    verify: summarize(verifies),
    cpu: seconds(ok.map((r) => r.outcome!.cpu?.coreSeconds)),
    verifyCpu: seconds(ok.map((r) => r.outcome!.verify?.cpu?.coreSeconds)),
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

/** Ratios of medians; `cores`: the machine's, for the CPU floors. */
export function ratios(reports: ContenderReport[], cores: number): ScaleRatios {
  const by = (k: string) => reports.find((r) => r.key === k);
  const e = medianOf(by('e'));
  const raw = medianOf(by('a'));
  const over = (other: string) => {
    const t = medianOf(by(other));
    return e !== null && t ? e / t : null;
  };
  const verify = by('e')?.verify?.median ?? null;
  // Core-seconds are seconds × 1000 / cores: milliseconds of the whole machine busy.
  const floor = (coreSeconds: number | null | undefined, over: number | null) =>
    typeof coreSeconds === 'number' && over && cores > 0 ? (coreSeconds * 1000) / cores / over : null;
  return {
    applyToRaw: over('a'),
    applyToRestore: over('b'),
    verifyToApply: verify !== null && e ? verify / e : null,
    applyCpuFloorToRaw: floor(by('e')?.cpu?.median, raw),
    verifyCpuFloorToApply: floor(by('e')?.verifyCpu?.median, e),
  };
}

/** Limits of the goals (docs/benchmarks.md). */
export const LIMITS = { applyToRaw: 0.75, applyToRestore: 0.8, rawRatioGrowth: 1.1, verifyToApply: 0.15, rssMb: 150, schemaToDump: 1.0, schemaStepGrowth: 1.1 } as const;

/** The scale and the schema size the headline goals name, and the runs a median needs. */
export const GOAL_SCALE = 1;
export const GOAL_RUNS = 3;
export const GOAL_TABLES = 1000;

/** `copy: server` against the relay, onto two target clusters (a figure: the issue names no limit). */
export const COPY_SERVER_GOAL = 'copy: server / copy relay, two target clusters';

const goal = (g: string, value: number | null, limit: number | null, note?: string): Goal => ({
  goal: g,
  value,
  limit,
  met: value === null || limit === null ? null : value <= limit,
  ...(note ? { note } : {}),
});

const notMeasured = (g: string, limit: number | null, note: string): Goal => ({ goal: g, value: null, limit, met: null, note });

/**
 * The performance goals, from the medians: each with its value, limit and whether it
 * was met; a goal whose measurement is missing is listed as not measured, never as met.
 * `schemaRequested`: the schema-heavy benchmark was asked for (its goals are then listed).
 */
export function goals(
  scales: ScaleReport[],
  schema: SchemaBenchResult | null = null,
  schemaRequested = schema !== null,
  copyServer: CopyServerBench | null = null,
  copyServerRequested = copyServer !== null,
): Goal[] {
  const list: Goal[] = [];
  const byScale = [...scales].sort((a, b) => a.scale - b.scale);
  const runsOf = (s: ScaleReport, key: string) => s.contenders.find((c) => c.key === key)?.total?.n ?? 0;
  // apply / raw pipe at every scale; the limit holds at the goal scale, as a median of three.
  for (const s of byScale) {
    const runs = Math.min(runsOf(s, 'a'), runsOf(s, 'e'));
    const label = `apply / raw pipe (a), scale ${s.scale}, median of ${runs} run${runs === 1 ? '' : 's'}`;
    if (s.scale !== GOAL_SCALE) list.push(goal(label, s.ratios.applyToRaw, null));
    else if (s.ratios.applyToRaw !== null && runs < GOAL_RUNS) list.push(notMeasured(label, LIMITS.applyToRaw, `${s.ratios.applyToRaw.toFixed(2)}, but the goal is a median of ${GOAL_RUNS} runs`));
    else list.push(goal(label, s.ratios.applyToRaw, LIMITS.applyToRaw));
  }
  if (!byScale.some((s) => s.scale === GOAL_SCALE)) list.push(notMeasured(`apply / raw pipe (a), scale ${GOAL_SCALE}, median of ${GOAL_RUNS} runs`, LIMITS.applyToRaw, `scale ${GOAL_SCALE} not run`));
  const withRaw = byScale.filter((s) => s.ratios.applyToRaw !== null);
  for (let i = 1; i < withRaw.length; i++) {
    const [lo, hi] = [withRaw[i - 1]!, withRaw[i]!];
    list.push(goal(`apply / raw pipe at scale ${hi.scale} over the same at scale ${lo.scale} (must not grow)`, hi.ratios.applyToRaw! / lo.ratios.applyToRaw!, LIMITS.rawRatioGrowth));
  }
  if (withRaw.length < 2) list.push(notMeasured('apply / raw pipe growth with the scale (must not grow)', LIMITS.rawRatioGrowth, 'fewer than two scales with both (a) and (e)'));
  // The earlier round's goal against pg_restore, only where (b) ran.
  for (const s of byScale) {
    if (s.contenders.some((c) => c.key === 'b')) list.push(goal(`apply / pg_dump -Fd + pg_restore (b), scale ${s.scale}`, s.ratios.applyToRestore, LIMITS.applyToRestore));
  }
  // What the machine's cores allow (info): the work's CPU time over the cores, against the time it is compared with.
  for (const s of byScale) {
    if (typeof s.ratios.applyCpuFloorToRaw === 'number') list.push(goal(`apply's CPU time / cores over the raw pipe's time, scale ${s.scale} (the least apply / raw pipe can be here)`, s.ratios.applyCpuFloorToRaw, null));
  }
  for (const s of byScale) list.push(goal(`verify --checksums / apply, scale ${s.scale}`, s.ratios.verifyToApply, LIMITS.verifyToApply));
  for (const s of byScale) {
    if (typeof s.ratios.verifyCpuFloorToApply === 'number') list.push(goal(`verify's CPU time / cores over apply's time, scale ${s.scale} (the least verify / apply can be here)`, s.ratios.verifyCpuFloorToApply, null));
  }
  for (const s of byScale) {
    const e = s.contenders.find((c) => c.key === 'e');
    const kb = maxOf([e?.peakRssKb, e?.verifyPeakRssKb]);
    list.push(goal(`CLI peak RSS (apply and verify), MiB, scale ${s.scale}`, kb === null ? null : kb / 1024, LIMITS.rssMb));
  }
  if (schemaRequested) list.push(...schemaGoals(schema));
  if (copyServer) {
    const runs = copyServer.runs.filter((r) => r.method === 'server').length;
    const failed = copyServer.runs.filter((r) => !r.verifyOk).length;
    list.push(goal(COPY_SERVER_GOAL, copyServer.ratio, null, `median apply of ${runs} run(s) each at scale ${copyServer.scale}${failed ? `; ${failed} run(s) failed verify --checksums` : ''}`));
  } else list.push(notMeasured(COPY_SERVER_GOAL, null, copyServerRequested ? 'the comparison did not finish' : 'not selected (--only v)'));
  return list;
}

/** apply / `pg_dump -s | psql` at 1,000 tables; apply's cost per step at each size, and its growth from the smallest size to the largest. */
function schemaGoals(schema: SchemaBenchResult | null): Goal[] {
  const sizes = [...(schema?.sizes ?? [])].filter((r) => r.applyMs.length > 0 && r.dumpMs.length > 0).sort((a, b) => a.tables - b.tables);
  const out: Goal[] = [];
  const one = sizes.find((r) => r.tables === GOAL_TABLES);
  const label = `schema-only apply / pg_dump -s | psql, ${GOAL_TABLES} tables`;
  out.push(one ? goal(`${label}, median of ${one.applyMs.length}`, schemaMedian(one.applyMs) / schemaMedian(one.dumpMs), LIMITS.schemaToDump) : notMeasured(label, LIMITS.schemaToDump, `no ${GOAL_TABLES}-table size`));
  const perStep = (r: (typeof sizes)[number]) => schemaMedian(r.applyMs) / Math.max(1, r.steps);
  for (const r of sizes) {
    if (r.tables !== GOAL_TABLES) out.push(goal(`schema-only apply / pg_dump -s | psql, ${r.tables} tables`, schemaMedian(r.applyMs) / schemaMedian(r.dumpMs), null));
    out.push(goal(`schema-only apply, ms per step, ${r.tables} tables (${r.steps} steps)`, perStep(r), null));
  }
  if (sizes.length > 1) {
    const [lo, hi] = [sizes[0]!, sizes[sizes.length - 1]!];
    out.push(goal(`schema-only apply, ms per step at ${hi.tables} tables over ${lo.tables} (must not grow)`, perStep(hi) / perStep(lo), LIMITS.schemaStepGrowth));
  } else out.push(notMeasured('schema-only apply, ms per step growth with the tables (must not grow)', LIMITS.schemaStepGrowth, 'fewer than two sizes'));
  return out;
}

/** PASS, MISS, NOT MEASURED, or info (a figure with no limit). */
export function goalMark(g: Goal): string {
  if (g.limit === null && g.value !== null) return 'info';
  if (g.met === null) return 'NOT MEASURED';
  return g.met ? 'PASS' : 'MISS';
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
    `(${key}) per table, median run: copy = its copy steps' window; read / write = the time within it the relay waited on the source / on the target (a moment both were waited on counts as the target's); index = its index steps' window (with VACUUM ANALYZE); wait = from its copy's end to its index builds' start:`,
    pad(rows),
  ];
}

/**
 * The machine's CPU over each contender's median run, and what it allows: on `cores`
 * cores, work of C core-seconds takes at least C / cores seconds however it is scheduled.
 */
export function cpuLines(s: ScaleReport, cores: number): string[] {
  const busy = (c: ContenderReport, pick: (o: ContenderOutcome) => CpuUse | null | undefined) => {
    const u = c.median?.outcome ? pick(c.median.outcome) : null;
    if (!u) return null;
    const split =
      typeof u.source === 'number' && typeof u.target === 'number'
        ? ` (source server ${u.source.toFixed(1)}, target server ${u.target.toFixed(1)}, tools and the rest ${Math.max(0, u.coreSeconds - u.source - u.target).toFixed(1)})`
        : '';
    return `${u.coreSeconds.toFixed(1)} core-s${split}, ${u.busyCores.toFixed(2)} of ${cores} cores busy on average`;
  };
  const parts: string[] = [];
  for (const c of s.contenders) {
    const copy = busy(c, (o) => o.cpu);
    if (copy) parts.push(`(${c.key}) ${c.key === 'e' ? 'apply ' : ''}${copy}`);
    const verify = busy(c, (o) => o.verify?.cpu);
    if (verify) parts.push(`(${c.key}) verify ${verify}`);
  }
  if (parts.length === 0) return [];
  const out = [`CPU of the whole machine (both clusters and the tools), median runs: ${parts.join('; ')}`];
  const r = s.ratios;
  if (typeof r.applyCpuFloorToRaw === 'number') {
    out.push(`  apply's CPU time over ${cores} cores is ${num(r.applyCpuFloorToRaw)}× the raw pipe's median: no schedule brings apply / raw pipe below that here without less work`);
  }
  if (typeof r.verifyCpuFloorToApply === 'number') out.push(`  verify's CPU time over ${cores} cores is ${num(r.verifyCpuFloorToApply)}× apply's median`);
  return out;
}

function scaleLines(s: ScaleReport, cores: number): string[] {
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
    // Every contender's phases, so that apply's copy and index windows read beside the peers' data and post-data.
    if (p) out.push(`(${c.key}) median run: schema ${sec(p.schema)} s, ${c.key === 'e' ? 'copy window' : 'data'} ${sec(p.data)} s, ${c.key === 'e' ? 'index window' : 'indexes and keys'} ${sec(p.indexes)} s, total ${sec(p.total)} s`);
    for (const n of c.median?.outcome?.notes ?? []) out.push(`(${c.key}) ${n}`);
    out.push(...stepLines(c));
    out.push(...tableLines(c.key, c.median?.outcome?.tables));
  }
  out.push(...cpuLines(s, cores));
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
  for (const s of r.scales) out.push('', ...scaleLines(s, r.machine.nproc));
  if (r.schema) out.push('', renderSchemaReport(r.schema).trimEnd());
  if (r.copyServer) out.push('', renderCopyServerBench(r.copyServer).trimEnd());
  out.push('', 'goals:');
  const marks = r.goals.map(goalMark);
  const width = Math.max(...marks.map((m) => m.length));
  for (const [i, g] of r.goals.entries()) {
    const limit = g.limit === null ? '' : ` (limit ${g.limit})`;
    out.push(`  ${marks[i]!.padEnd(width)}  ${g.goal}: ${num(g.value)}${limit}${g.note ? `; ${g.note}` : ''}`);
  }
  return `${out.join('\n')}\n`;
}
