import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

/**
 * The machine's CPU time, from the first line of /proc/stat (all cores, in clock ticks):
 * `busy` is user + nice + system + irq + softirq + steal, `total` adds idle and iowait.
 */
export interface CpuTicks {
  busy: number;
  total: number;
}

/**
 * What a run used of the whole machine: both clusters' servers, the tools and anything
 * else running (a quiet machine is the benchmark's premise). `coreSeconds` is the busy
 * share times the cores times the wall time; `busyCores` the average number of cores busy.
 */
export interface CpuUse {
  coreSeconds: number;
  busyCores: number;
  /** Of `coreSeconds`, what each cluster's server processes used (null where not measured). */
  source?: number | null;
  target?: number | null;
}

/** The aggregate `cpu` line of /proc/stat; null when the text has none. */
export function parseProcStat(text: string): CpuTicks | null {
  const line = text.split('\n').find((l) => /^cpu\s/.test(l));
  if (!line) return null;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1, 9)
    .map((v) => Number(v) || 0);
  const busy = (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
  return { busy, total: busy + (idle ?? 0) + (iowait ?? 0) };
}

/** The machine's ticks now; null where /proc/stat cannot be read (not Linux). */
export async function readCpuTicks(): Promise<CpuTicks | null> {
  try {
    return parseProcStat(await readFile('/proc/stat', 'utf8'));
  } catch {
    return null;
  }
}

/**
 * The CPU used between two readings over `wallMs`: measured as a share of all ticks,
 * so the clock-tick rate does not matter. Null without both readings or ticks between them.
 */
export function cpuUse(before: CpuTicks | null, after: CpuTicks | null, wallMs: number, cores: number): CpuUse | null {
  if (!before || !after) return null;
  const total = after.total - before.total;
  if (total <= 0 || wallMs <= 0) return null;
  const busyCores = ((after.busy - before.busy) / total) * cores;
  return { coreSeconds: (busyCores * wallMs) / 1000, busyCores };
}

/** The fields of /proc/<pid>/stat this needs (clock ticks); null for an unreadable line. */
export function parsePidStat(text: string): { ppid: number; utime: number; stime: number; cutime: number; cstime: number } | null {
  // The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
  const rest = text.slice(text.lastIndexOf(')') + 2).trim().split(/\s+/);
  if (rest.length < 15) return null;
  const n = (i: number) => Number(rest[i]) || 0;
  // rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15, cutime 16, cstime 17.
  return { ppid: n(1), utime: n(11), stime: n(12), cutime: n(13), cstime: n(14) };
}

let ticksPerSecond: number | null = null;
/** The kernel's clock ticks per second (`getconf CLK_TCK`; 100 where it cannot be asked). */
export function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/**
 * The CPU seconds a PostgreSQL cluster's processes have used so far: the postmaster's
 * own and its exited children's (every backend that ended, counted when reaped), plus
 * its running children's (checkpointer, WAL writer, sessions still open). Null when
 * the cluster's postmaster.pid or /proc cannot be read.
 */
export async function clusterCpuSeconds(dataDir: string): Promise<number | null> {
  try {
    const pid = Number((await readFile(`${dataDir}/postmaster.pid`, 'utf8')).split('\n')[0]);
    const main = parsePidStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
    if (!pid || !main) return null;
    let ticks = main.utime + main.stime + main.cutime + main.cstime;
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === pid) continue;
      // A process may end between the listing and the read: it is then in the postmaster's reaped children.
      const child = parsePidStat(await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => ''));
      if (child?.ppid === pid) ticks += child.utime + child.stime;
    }
    return ticks / clockTicks();
  } catch {
    return null;
  }
}

/** The clusters whose share of the CPU is measured apart: their data directories. */
export interface CpuClusters {
  source: string;
  target: string;
}

/** The benchmark's two clusters, for `measureCpu`. */
export function cpuClusters(ctx: { clusters: { source: { dataDir: string }; target: { dataDir: string } } }): CpuClusters {
  return { source: ctx.clusters.source.dataDir, target: ctx.clusters.target.dataDir };
}

/**
 * Runs `fn` and measures the machine's CPU over it, and of it each cluster's server
 * processes (with `clusters`); what is left is the tools' (and anything else running).
 */
export async function measureCpu<T>(cores: number, fn: () => Promise<T>, clusters?: CpuClusters): Promise<{ result: T; cpu: CpuUse | null }> {
  const sides = async () => (clusters ? Promise.all([clusterCpuSeconds(clusters.source), clusterCpuSeconds(clusters.target)]) : [null, null]);
  const [s0, t0s] = await sides();
  const before = await readCpuTicks();
  const t0 = performance.now();
  const result = await fn();
  const wallMs = performance.now() - t0;
  const after = await readCpuTicks();
  // The run's sessions end as its tools exit: a moment for their backends to exit and be counted.
  if (clusters) await new Promise((r) => setTimeout(r, 200));
  const [s1, t1s] = await sides();
  const use = cpuUse(before, after, wallMs, cores);
  const diff = (a: number | null, b: number | null) => (a === null || b === null ? null : Math.max(0, b - a));
  return { result, cpu: use && clusters ? { ...use, source: diff(s0, s1), target: diff(t0s, t1s) } : use };
}
