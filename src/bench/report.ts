import type { ContenderOutcome } from './contender.js';

/**
 * One contender's result. `ratioToRaw` and `ratioToBestPeer` are its total over
 * the raw pipe's (a) and over the fastest of the peers (b, c, d): below 1 is faster.
 * A contender that was skipped or failed has `outcome` null and says why.
 */
export interface ContenderReport {
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
  ratioToRaw: number | null;
  ratioToBestPeer: number | null;
  outcome: ContenderOutcome | null;
}

export interface Goal {
  goal: string;
  value: number | null;
  limit: number;
  met: boolean | null;
}

/** What `npm run bench -- --json` prints (stable: fields are added, never renamed). */
export interface BenchReport {
  machine: { nproc: number; cpu: string; memoryMb: number; postgres: string; node: string };
  scale: number;
  jobs: number;
  settings: Record<string, string>;
  dataset: {
    tables: number;
    movedTables: number;
    movedBytes: number;
    movedRows: number;
    largestTable: { name: string; bytes: number; rows: number };
    generateMs: number;
  };
  contenders: ContenderReport[];
  goals: Goal[];
}

const PEERS = ['b', 'c', 'd'];

function total(r: ContenderReport | undefined): number | null {
  return r?.outcome && !r.error ? r.outcome.phases.total : null;
}

/** Fills each report's ratios to the raw pipe and to the best peer. */
export function compareTo(reports: ContenderReport[]): void {
  const raw = total(reports.find((r) => r.key === 'a'));
  const peers = reports.filter((r) => PEERS.includes(r.key)).map(total).filter((t): t is number => t !== null);
  const best = peers.length ? Math.min(...peers) : null;
  for (const r of reports) {
    const t = total(r);
    if (t === null) continue;
    r.ratioToRaw = raw ? t / raw : null;
    r.ratioToBestPeer = best ? t / best : null;
  }
}

/** The performance goals, from the numbers (null when a contender needed for one did not run). */
export function goals(reports: ContenderReport[]): Goal[] {
  const by = (k: string) => reports.find((r) => r.key === k);
  const e = by('e');
  const te = total(e);
  const ratio = (other: string) => {
    const t = total(by(other));
    return te !== null && t !== null ? te / t : null;
  };
  const verify = e?.outcome?.verify?.ms ?? null;
  const rss = e?.outcome?.peakRssKb ?? null;
  const list: Array<Omit<Goal, 'met'>> = [
    { goal: 'apply total / raw pipe (a)', value: ratio('a'), limit: 1.15 },
    { goal: 'apply total / pg_dump -Fd -j2 + pg_restore -j2 (b)', value: ratio('b'), limit: 0.8 },
    { goal: 'apply total / pgcopydb (d)', value: ratio('d'), limit: 1 },
    // The copy time of an offline split is its write downtime: the whole apply.
    { goal: 'verify --checksums / copy time (the apply)', value: verify !== null && te ? verify / te : null, limit: 0.4 },
    { goal: 'CLI peak RSS, MB', value: rss !== null ? rss / 1024 : null, limit: 150 },
  ];
  return list.map((g) => ({ ...g, met: g.value === null ? null : g.goal.startsWith('apply total / pgcopydb') ? g.value < g.limit : g.value <= g.limit }));
}

/** Figures shown beside the goals: the verify against the copy_data steps' window alone. */
export function context(reports: ContenderReport[]): string[] {
  const e = reports.find((r) => r.key === 'e');
  const window = e?.outcome?.phases.data ?? null;
  const verify = e?.outcome?.verify?.ms ?? null;
  return verify !== null && window ? [`verify --checksums / copy_data window (first copy start to last copy end, ${sec(window)} s): ${num(verify / window)}`] : [];
}

const sec = (ms: number | null | undefined) => (ms === null || ms === undefined ? '-' : (ms / 1000).toFixed(1));
const num = (v: number | null, digits = 2) => (v === null ? '-' : v.toFixed(digits));
const mb = (bytes: number | null) => (bytes === null ? '-' : (bytes / 2 ** 20).toFixed(0));

function pad(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}

/** A contender's journal step times: one line per step kind, one per copy of the largest table. */
function stepLines(c: ContenderReport): string[] {
  const t = c.outcome?.steps;
  if (!t) return [];
  const rows = [[`(${c.key})   step kind`, 'steps', 'sum s', 'window s']];
  for (const k of t.kinds) rows.push([`(${c.key})   ${k.kind}`, String(k.count), sec(k.sumMs), sec(k.windowMs)]);
  const out = [`(${c.key}) steps by kind (sum of durations; window from first start to last end):`, pad(rows)];
  for (const s of t.largest) {
    out.push(`(${c.key})   ${s.step}: ${sec(s.ms)} s, ${s.rows ?? '-'} rows${s.rows && s.ms ? ` (${Math.round(s.rows / (s.ms / 1000))} rows/s)` : ''}, ${s.binary === null ? '-' : s.binary ? 'binary' : 'text'}`);
  }
  return out;
}

/** The human rendering: machine, data, one line per contender, the goals. */
export function renderReport(r: BenchReport): string {
  const out: string[] = [];
  out.push(`machine: ${r.machine.nproc} cores (${r.machine.cpu}), ${r.machine.memoryMb} MiB; ${r.machine.postgres}; node ${r.machine.node}`);
  out.push(`settings (both clusters): ${Object.entries(r.settings).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  out.push(
    `data: scale ${r.scale}; ${r.dataset.tables} tables, ${r.dataset.movedTables} moved (${mb(r.dataset.movedBytes)} MiB heap+TOAST, ${r.dataset.movedRows} rows); ` +
      `largest ${r.dataset.largestTable.name} ${mb(r.dataset.largestTable.bytes)} MiB; generated in ${sec(r.dataset.generateMs)} s; jobs ${r.jobs}`,
  );
  out.push('');
  const rows = [['contender', 'schema s', 'data s', 'indexes s', 'total s', 'MB/s', 'x raw', 'x best peer', 'WAL MiB', 'RSS MiB', 'rows']];
  for (const c of r.contenders) {
    const label = `(${c.key}) ${c.name}`;
    if (!c.outcome) {
      rows.push([label, c.skipped ? 'skipped' : 'FAILED', '', '', '', '', '', '', '', '', '']);
      continue;
    }
    const p = c.outcome.phases;
    rows.push([label, sec(p.schema), sec(p.data), sec(p.indexes), sec(p.total), num(c.mbPerSec, 0), num(c.ratioToRaw), num(c.ratioToBestPeer), mb(c.walBytes), c.outcome.peakRssKb === null ? '-' : (c.outcome.peakRssKb / 1024).toFixed(0), c.rowsOk ? 'ok' : 'DIFF']);
  }
  out.push(pad(rows));
  for (const c of r.contenders) {
    if (c.skipped) out.push(`(${c.key}) skipped: ${c.skipped}`);
    if (c.error) out.push(`(${c.key}) failed: ${c.error}`);
    const v = c.outcome?.verify;
    if (v) out.push(`(${c.key}) verify --checksums: ${sec(v.ms)} s, ${v.ok ? 'no difference' : 'DIFFERENCES'}, peak RSS ${v.peakRssKb === null ? '-' : (v.peakRssKb / 1024).toFixed(0)} MiB`);
    for (const n of c.outcome?.notes ?? []) out.push(`(${c.key}) ${n}`);
    out.push(...stepLines(c));
  }
  out.push('', 'goals:');
  for (const g of r.goals) out.push(`  ${g.met === null ? '?' : g.met ? 'met' : 'MISSED'}  ${g.goal}: ${num(g.value)} (limit ${g.limit})`);
  for (const line of context(r.contenders)) out.push(`  info  ${line}`);
  return `${out.join('\n')}\n`;
}
