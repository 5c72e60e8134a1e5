import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import type { CommonOptions } from '../common.js';
import { consent, type Terminal } from '../consent.js';
import type { Output } from '../output.js';
import { loadSplit, readLiveCatalog } from '../../plan/make.js';
import type { Plan } from '../../plan/model.js';
import { planServers } from '../../run/apply.js';
import { handlers } from '../../steps/index.js';
import { fittingJobs } from '../../online/connection-budget.js';
import { Pools } from '../../pg/pools.js';
import { Journal } from '../../engine/journal.js';
import { controlUrlFor } from '../../engine/journal-db.js';
import { SplitLock } from '../../engine/lock.js';
import { SnapshotHolder } from '../../engine/snapshot.js';
import { runPlan, type StepOutcome } from '../../engine/executor.js';
import { chooseProgress, formatDuration } from '../views/progress.js';
import { formatBytes } from '../../format/byte-size.js';
import { BadInputError, PlanBlockedError, StalePlanError } from '../../errors.js';
import { changedTables, newSourcePartitions, schemaDrift } from '../../online/schema-drift.js';
import { presentInTargets, targetColumns } from '../../online/target-columns.js';
import { replicationLag, type ReplicationLag } from '../../online/replication-lag.js';
import { DowntimeClock, serviceDowntimes, type ServiceDowntime } from '../../online/downtime-clock.js';
import { dropAllTracking, prepareDenormalized, type PrepareReport } from '../../online/denormalize-prepare.js';
import { TRACK_SCHEMA } from '../../online/denormalize-tracking.js';
import { endReverseReplication, type EndReverseResult } from '../../run/complete.js';
import { cutoverNotReady } from '../../plan/service-selection.js';

/** The lag gate's default: replication may be this far behind when the fence goes up. */
export const DEFAULT_MAX_LAG = 16 * 1024 * 1024;

export interface CutoverOptions extends CommonOptions {
  /** Bytes of WAL a subscription may be behind before the fence (default DEFAULT_MAX_LAG). */
  maxLag?: number;
  /** Seconds catch_up waits for the subscriptions after the fence (default 120). */
  catchUpTimeout?: number;
  jobs?: number;
  /** Consent given: do not ask before fencing. */
  yes?: boolean;
  /** Set by tests: the clock used for retention. */
  now?: Date;
  /** End reverse replication for good instead of cutting over. */
  complete?: boolean;
}

/**
 * What a cutover did. `writeDowntimeMs` runs from the fence to the end of the last
 * stop_replication (null when the fence was up before this run: see `fencedAt`).
 * `clientDowntime` is what the services feel: per service, from the fence to the first
 * write its new database accepted after its config was repointed (and its restart
 * command ran); `clientDowntimeMs` is the longest of them. `--json` prints it as is.
 */
export interface CutoverResult {
  name: string;
  alreadyDone: boolean;
  /** The question was answered with something else than "yes": nothing was changed. */
  cancelled?: boolean;
  writeDowntimeMs: number | null;
  /** When the fence went up (ISO 8601), if known. */
  fencedAt: string | null;
  cutoverMs: number;
  /** The longest of `clientDowntime` (null when none is known). */
  clientDowntimeMs?: number | null;
  clientDowntime?: ServiceDowntime[];
  /** The denormalized columns filled before the fence (absent when the fence was up before this run). */
  denormalizedBeforeFence?: PrepareReport;
  lagBefore: ReplicationLag[];
  steps: StepOutcome[];
  /** `--complete`: how ending the reverse replication went, and what it dropped. */
  complete?: { state: EndReverseResult['state']; dropped: string[] };
}

const isCutover = (s: Plan['steps'][number]) => s.phase === 'cutover';

/**
 * Steps a cutover runs at once by default. Its steps wait on the servers (locks, the
 * subscriptions' progress, slot creation, restarts) rather than use this machine's
 * cores, and every one of them runs inside the fence window: enough jobs for two steps
 * of every service at once, and never fewer than the cores.
 */
export function cutoverJobs(plan: Plan): number {
  return Math.min(32, Math.max(availableParallelism(), 2 * plan.services.length));
}

/** Refuses when a subscription is missing, still copying, or further behind than `maxLag` (nothing changed yet). */
function lagGate(lag: ReplicationLag[], maxLag: number): void {
  const problems: string[] = [];
  for (const l of lag) {
    if (!l.exists) problems.push(`${l.database}: its replication slot ${l.slot} does not exist on the source`);
    else if (l.syncing !== null && l.syncing > 0) problems.push(`${l.database}: ${l.syncing} tables are still in their initial copy`);
    else if (l.lagBytes !== null && l.lagBytes > maxLag) problems.push(`${l.database}: ${formatBytes(l.lagBytes)} behind (at most ${formatBytes(maxLag)} allowed)`);
  }
  if (problems.length > 0) {
    throw new PlanBlockedError(
      `not cutting over: replication is not ready:\n  ${problems.join('\n  ')}`,
      'nothing was changed; wait and run cutover again (or allow more with --max-lag); `cloudphone-split status` shows the lag',
    );
  }
}

/** How long cutover watches a subscription that failed before, to tell a past failure from one that goes on. */
const FAILING_WATCH_MS = 2000;

/**
 * A subscription whose worker keeps failing to apply a change (a constraint, a trigger or
 * row-level security in the new database refusing it) falls behind for good: fenced, the
 * source would refuse writes until catch_up gave up. Where one has failed before, its
 * count is read again a moment later (before the fence, outside the downtime): one that
 * went on failing refuses the cutover, naming it, with nothing changed.
 */
async function failingGate(pools: Pools, plan: Plan, before: ReplicationLag[]): Promise<void> {
  if (!before.some((l) => (l.errors ?? 0) > 0)) return;
  await new Promise((resolve) => setTimeout(resolve, FAILING_WATCH_MS));
  const after = await replicationLag(pools, plan);
  const failing = after.filter((l) => (l.errors ?? 0) > (before.find((b) => b.subscription === l.subscription)?.errors ?? 0));
  if (failing.length === 0) return;
  throw new PlanBlockedError(
    `not cutting over: replication into ${failing.map((l) => `${l.database} (subscription ${l.subscription}, ${l.errors} failed applies)`).join(', ')} keeps failing, so it would never catch up once the source is fenced`,
    `nothing was changed; the log of server ${[...new Set(failing.map((l) => l.server))].join(', ')} says which change is refused and why (a constraint, a trigger or row-level security in the new database); fix that there, then run cutover again`,
  );
}

/**
 * A cutover that failed before its fence went up: the tracking of denormalized columns
 * it installed on the targets before the fence (denormalize-tracking.ts) would record
 * every replicated write until the next cutover run; it is dropped (the next run
 * installs it afresh). Once the fence is up it stays: catch_up, run again, reads it.
 */
async function dropTrackingWhileUnfenced(journal: Journal, plan: Plan, fence: Plan['steps'][number] | undefined, pools: Pools, out: Output): Promise<void> {
  try {
    if (fence && (await journal.doneSteps(plan.name)).has(fence.id)) return;
    await dropAllTracking(pools, plan);
  } catch (err) {
    out.warn(`the tracking of denormalized columns (schema ${TRACK_SCHEMA} in the new databases) could not be dropped: ${(err as Error).message}; the next cutover run replaces it`);
  }
}

/** When the fence of an earlier run went up, from the journal. */
async function fencedAtFromJournal(journal: Journal, plan: Plan): Promise<number | null> {
  const fence = plan.steps.find((s) => s.kind === 'fence_source' && isCutover(s));
  if (!fence) return null;
  const status = await journal.status(plan.name);
  for (const run of status.runs) {
    const s = run.steps.find((x) => x.id === fence.id && x.state === 'done');
    if (s?.startedAt) return Date.parse(s.startedAt);
  }
  return null;
}

/**
 * `cutover`: runs the cutover phase of the split's last applied online plan (from the
 * journal) with the same executor and journal as apply: fence, catch up, sequences,
 * row counts against the fenced source, stop replication, repoint config, retention.
 * Before the fence it checks every subscription's lag against `maxLag`.
 */
export async function cutoverCommand(opts: CutoverOptions, out: Output, env: NodeJS.ProcessEnv, term: Terminal): Promise<CutoverResult> {
  const t0 = Date.now();
  const split = await loadSplit(opts.manifest, env, { source: true });
  for (const s of split.secrets) out.secrets.add(s);
  const controlUrl = controlUrlFor(split.servers.source!, split.controlUrl);
  const journal = await Journal.open(controlUrl);
  try {
    const name = split.manifest.name;
    const plan = await journal.lastPlan(name);
    if (!plan) throw new BadInputError(`split ${name} has not been applied yet: nothing to cut over`, 'run `cloudphone-split apply` first: in online mode it starts replication');
    if (plan.mode !== 'online' || !plan.steps.some(isCutover)) {
      throw new BadInputError(`split ${name} was applied in ${plan.mode} mode: there is no cutover to run`, 'cutover is for manifests with mode: online');
    }
    const done = await journal.doneSteps(name);
    // Every service must replicate first (`apply --service` applies a few at a time).
    const notReady = cutoverNotReady(plan, new Set(done.keys()));
    if (notReady) throw notReady;
    const cut = plan.steps.filter(isCutover);
    if (opts.complete) return await completeCutover(opts, out, env, term, { name, plan, controlUrl, journal, file: split.file });
    if (cut.every((s) => done.has(s.id))) {
      return { name, alreadyDone: true, writeDowntimeMs: null, fencedAt: null, cutoverMs: Date.now() - t0, lagBefore: [], steps: [] };
    }
    const { servers, secrets, manifest } = planServers(plan, env, split.file);
    for (const s of secrets) out.secrets.add(s);
    const approved = await consent(term, opts.yes, {
      action: `cutover fences ${plan.source.database} and repoints the services`,
      question: `Cut split ${name} over: fence ${plan.source.database}, stop replication, repoint ${plan.services.length} services?`,
    });
    if (!approved) return { name, alreadyDone: false, cancelled: true, writeDowntimeMs: null, fencedAt: null, cutoverMs: Date.now() - t0, lagBefore: [], steps: [] };
    const lock = await SplitLock.acquire(controlUrl, name, `cloudphone-split cutover ${name}`);
    // The restart commands run inside the downtime window: their shell library is loaded now, not then.
    if (cut.some((s) => s.kind === 'repoint_config' && s.restart)) await import('zx/core');
    const wanted = Math.max(1, opts.jobs ?? cutoverJobs(plan));
    const jobs = await fittingJobs(plan, servers, wanted, !done.has(cut.find((s) => s.kind === 'fence_source')?.id ?? ''), (m) => out.warn(m));
    const pools = new Pools(servers, jobs * 2 + 2);
    const snapshot = new SnapshotHolder(() => pools.client('source'));
    const abort = new AbortController();
    const onSigint = () => {
      out.warn('\nInterrupted: finishing the running steps, then stopping (rerun cutover to resume; the source stays fenced).');
      abort.abort();
    };
    process.once('SIGINT', onSigint);
    process.once('SIGTERM', onSigint);
    // Under --json stdout carries only the result document; progress lines go to stderr.
    const view = chooseProgress({ json: out.json, color: out.color, isTTY: out.interactive, stream: out.json ? out.stderr : out.stdout });
    try {
      const fence = cut.find((s) => s.kind === 'fence_source');
      if (!fence || !done.has(fence.id)) {
        const live = await readLiveCatalog(servers.source!, manifest.source.schemas);
        const drift = schemaDrift(plan, live, await targetColumns(pools, plan, changedTables(plan, live)), await presentInTargets(pools, newSourcePartitions(plan, live)));
        if (drift.length > 0) {
          throw new StalePlanError(
            `the source schema of the moved tables changed since apply, and logical replication does not carry schema changes: ${drift.join('; ')}`,
            'undo the change on the source (or make the same change on the target database by hand, before any row uses it), then run cutover again; nothing was fenced',
          );
        }
      }
      const lagBefore = await replicationLag(pools, plan);
      if (!fence || !done.has(fence.id)) {
        lagGate(lagBefore, opts.maxLag ?? DEFAULT_MAX_LAG);
        await failingGate(pools, plan, lagBefore);
      }
      const clock = new DowntimeClock(plan, view);
      const unfenced = !fence || !done.has(fence.id);
      let prepared: PrepareReport | undefined;
      let summary: Awaited<ReturnType<typeof runPlan>>;
      try {
        // Before the fence, outside the downtime: denormalized columns current but for the rows written from now on.
        prepared = unfenced ? await prepareDenormalized(pools, plan, view) : undefined;
        summary = await runPlan({
          plan,
          handlers,
          pools,
          journal,
          jobs,
          ...(opts.catchUpTimeout !== undefined ? { catchUpTimeoutMs: opts.catchUpTimeout * 1000 } : {}),
          env,
          baseDir: dirname(split.file),
          progress: clock,
          signal: abort.signal,
          now: opts.now ? () => opts.now! : () => new Date(),
          // Tables that logical replication cannot carry are copied after the fence, from one snapshot.
          snapshot: () => snapshot.id(),
          lock,
          only: isCutover,
        });
      } catch (err) {
        if (unfenced) await dropTrackingWhileUnfenced(journal, plan, fence, pools, out);
        throw err;
      }
      view.close();
      const fencedAt = clock.fenceAt ?? (await fencedAtFromJournal(journal, plan));
      const writeDowntimeMs = fencedAt !== null && fencedAt !== undefined && clock.stoppedAt !== undefined ? Math.max(0, clock.stoppedAt - fencedAt) : null;
      const clientDowntime = serviceDowntimes(plan, fencedAt ?? null, await journal.doneSteps(name));
      const known = clientDowntime.flatMap((d) => (d.ms === null ? [] : [d.ms]));
      return {
        name,
        alreadyDone: false,
        writeDowntimeMs,
        fencedAt: fencedAt ? new Date(fencedAt).toISOString() : null,
        cutoverMs: Date.now() - t0,
        clientDowntimeMs: known.length > 0 ? Math.max(...known) : null,
        clientDowntime,
        ...(prepared ? { denormalizedBeforeFence: prepared } : {}),
        lagBefore,
        steps: summary.steps,
      };
    } finally {
      view.close();
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
      await snapshot.close().catch(() => undefined);
      await pools.end();
      await lock.release().catch(() => undefined);
    }
  } finally {
    await journal.close().catch(() => undefined);
  }
}

/** `cutover --complete`: ends the reverse replication for good (see endReverseReplication); asks first unless --yes. */
async function completeCutover(
  opts: CutoverOptions,
  out: Output,
  env: NodeJS.ProcessEnv,
  term: Terminal,
  at: { name: string; plan: Plan; controlUrl: string; journal: Journal; file: string },
): Promise<CutoverResult> {
  const t0 = Date.now();
  const result = (state: EndReverseResult['state'], dropped: string[], steps: StepOutcome[], cancelled = false): CutoverResult => ({
    name: at.name,
    alreadyDone: state !== 'completed',
    ...(cancelled ? { cancelled } : {}),
    writeDowntimeMs: null,
    fencedAt: null,
    cutoverMs: Date.now() - t0,
    lagBefore: [],
    steps,
    complete: { state, dropped },
  });
  const { servers, secrets } = planServers(at.plan, env, at.file);
  for (const s of secrets) out.secrets.add(s);
  const approved = await consent(term, opts.yes, {
    action: 'cutover --complete drops the reverse replication (rollback is no longer possible)',
    question: `End the reverse replication of split ${at.name} for good (rollback can then no longer bring the new databases' writes back)?`,
  });
  if (!approved) return result('none', [], [], true);
  const lock = await SplitLock.acquire(at.controlUrl, at.name, `cloudphone-split cutover --complete ${at.name}`);
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  // SIGTERM too (Kubernetes stops a pod with it): the step running finishes, the rest waits for a rerun.
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigint);
  try {
    const r = await endReverseReplication({
      journal: at.journal,
      split: at.name,
      servers,
      baseDir: dirname(at.file),
      env,
      progress: { emit: (e) => (e.type === 'log' ? out.warn(e.message) : undefined) },
      signal: abort.signal,
    });
    return result(r.state, r.dropped, r.steps);
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    await lock.release().catch(() => undefined);
  }
}

export function renderCutover(r: CutoverResult, out: Output, manifestFile: string): void {
  if (r.complete && !r.cancelled) {
    const { state, dropped } = r.complete;
    if (state === 'none') out.say(`Split ${r.name} has no reverse replication running: nothing to end.`);
    else if (state === 'already-completed') out.say(`Split ${r.name}: reverse replication was already ended.`);
    else out.say(out.c.green(`Split ${r.name}: reverse replication ended for good${dropped.length ? ` (dropped ${dropped.join(', ')})` : ''}. Rollback is no longer possible.`));
    return;
  }
  if (r.alreadyDone) {
    out.say(`Split ${r.name} was already cut over: nothing to do.`);
    return;
  }
  if (r.cancelled) {
    out.say('Nothing was changed.');
    return;
  }
  const lag = r.lagBefore.map((l) => `${l.database} ${l.lagBytes === null ? '?' : formatBytes(l.lagBytes)}`).join(', ');
  if (lag) out.say(`Replication lag before the fence: ${lag}`);
  out.say(out.c.green(`\nSplit ${r.name} cut over in ${formatDuration(r.cutoverMs)}.`));
  if (r.writeDowntimeMs !== null) {
    out.say(`Write downtime: ${(r.writeDowntimeMs / 1000).toFixed(2)} s (from the fence on the source to the end of replication).`);
  } else if (r.fencedAt) {
    out.say(`The source has been fenced since ${r.fencedAt} (an earlier cutover run).`);
  }
  const clients = (r.clientDowntime ?? []).filter((d) => d.ms !== null);
  if (clients.length > 0) {
    out.say(`Client-visible downtime: ${((r.clientDowntimeMs ?? 0) / 1000).toFixed(2)} s at most (from the fence to the first write each service's new database accepted after its repoint and restart):`);
    for (const d of clients) out.say(`  ${d.service}: ${(d.ms! / 1000).toFixed(2)} s (${d.database})`);
  }
  out.say(`Next: cloudphone-split verify --checksums -m ${manifestFile}`);
}
