import { dirname } from 'node:path';
import { loadSplit } from '../plan/make.js';
import { Journal } from '../engine/journal.js';
import { controlUrlFor } from '../engine/journal-db.js';
import { expand } from '../manifest/expand.js';
import { Pools } from '../pg/pools.js';
import { refuseRejectedLogins } from '../pg/login-check.js';
import { withDatabase } from '../conn/connection.js';
import { verifyExitCode, verifySplit, type VerifyResult } from '../verify/verify.js';
import { cutoverCopies } from '../verify/cutover-copies.js';
import { BadInputError, ExitCode, InterruptedError, LockedError } from '../errors.js';
import { describeHolder, lockHolder } from '../engine/lock.js';
import type { Reporter } from './reporter.js';
import { servicePlanView } from '../plan/service-selection.js';

export interface VerifyRunOptions {
  manifest: string;
  checksums?: boolean;
  health?: boolean;
  jobs?: number;
  /** `--service`: check only these services (such a run is not recorded as the split's verification). */
  services?: string[];
  /** What each check is doing, as it goes. */
  onProgress?: (message: string) => void;
}

/** Verifies the split named in the manifest, against the plan its last apply ran (from the journal). */
export async function verifyRun(opts: VerifyRunOptions, env: NodeJS.ProcessEnv, reporter: Reporter): Promise<{ code: number; result: VerifyResult }> {
  const split = await loadSplit(opts.manifest, env, { source: true });
  for (const s of split.secrets) reporter.secrets.add(s);
  const controlUrl = controlUrlFor(split.servers.source!, split.controlUrl);
  const journal = await Journal.open(controlUrl);
  let plan;
  let retired = false;
  let pruned: string | null = null;
  let cutover: ReturnType<typeof cutoverCopies> = new Map();
  let rolledBack: Date | null = null;
  let running = false;
  let unfinished: { id: number | string; state: string } | null = null;
  let doneIds = new Set<string>();
  try {
    const last = (await journal.status(split.manifest.name, { limit: 1 })).runs[0];
    running = last?.state === 'running';
    unfinished = last?.state === 'running' || last?.state === 'failed' ? { id: last.id, state: last.state } : null;
    plan = await journal.lastPlan(split.manifest.name);
    if (!plan) rolledBack = await journal.rolledBackAt(split.manifest.name);
    const retention = plan?.steps.find((s) => s.kind === 'schedule_retention');
    const done = await journal.doneSteps(split.manifest.name);
    doneIds = new Set(done.keys());
    retired = retention !== undefined && done.has(retention.id);
    if (plan) cutover = cutoverCopies(plan, done);
    const backups = await journal.retention(split.manifest.name);
    if (backups.length > 0 && backups.every((b) => b.state === 'pruned')) pruned = backups.map((b) => b.database).join(', ');
  } finally {
    await journal.close();
  }
  // A run going on now (its lock is held): its half-made databases would read as differences, each with advice that does not apply.
  const holder = running ? await lockHolder(controlUrl, split.manifest.name, 'cloudphone-split verify') : undefined;
  if (holder) {
    throw new LockedError(
      `split ${split.manifest.name} is being applied now (${describeHolder(holder)}): verify checks a split whose apply has finished, so nothing was checked`,
      'run verify once it has finished (`cloudphone-split status --watch` follows it)',
    );
  }
  // Stopped half way (killed, failed) and not resumed: its half-made databases would read as differences, with advice to roll back.
  // With --service, only those services' steps (and the split's own, of no service) count.
  const applySteps = plan?.steps.filter((x) => (x.phase ?? 'apply') === 'apply' && (!opts.services || !('service' in x) || !x.service || opts.services.includes(x.service))) ?? [];
  if (plan && unfinished && !applySteps.every((x) => doneIds.has(x.id))) {
    throw new InterruptedError(
      `split ${split.manifest.name}: its apply did not finish (run ${unfinished.id} ${unfinished.state === 'failed' ? 'failed' : 'stopped, and no process runs it any more'}; ` +
        `${applySteps.filter((x) => doneIds.has(x.id)).length} of ${applySteps.length} steps done): the new databases are half made, so nothing was checked`,
      'rerun `cloudphone-split apply` to resume where it stopped, then verify (`cloudphone-split status` shows where it is)',
    );
  }
  if (!plan && rolledBack) {
    throw new BadInputError(
      `split ${split.manifest.name} was rolled back (${rolledBack.toISOString()}): there is no split to verify`,
      '`cloudphone-split status` shows what the rollback did; `cloudphone-split apply` splits it again',
    );
  }
  if (!plan) {
    throw new BadInputError(`split ${split.manifest.name} has not been applied yet: nothing to verify`, 'run `cloudphone-split apply` first');
  }
  if (pruned !== null) {
    throw new BadInputError(
      `split ${split.manifest.name}: its backup in ${pruned} was dropped by \`retention prune\`, and verify compares each new database with it: there is nothing left to compare with`,
      'the last verification before the prune is the split\'s proof; check the new databases with the services\' own tests from now on',
    );
  }
  if (opts.services) plan = servicePlanView(plan, opts.services);
  const rolePasswords: Record<string, string | null> = {};
  for (const s of split.manifest.services) {
    if (!s.role) continue;
    rolePasswords[s.role.name] = s.role.password ? expand(s.role.password, env, `services.${s.name}.role.password`) : null;
  }
  const healthUrls: Record<string, string> = {};
  for (const s of split.manifest.services) if (s.health) healthUrls[s.name] = expand(s.health, env, `services.${s.name}.health`);
  // A login a server rejects fails every check on it the same way: said once, as bad input (a difference it is not).
  const ends = new Map<string, string>([[split.servers.source!, 'source']]);
  for (const s of plan.services) {
    const url = split.servers[s.server];
    if (url) ends.set(withDatabase(url, s.database), `"${s.server}" target`);
  }
  await refuseRejectedLogins([...ends].map(([url, what]) => ({ url, what })));
  // Each compared table holds a source and a target connection; the other checks run beside them.
  const pools = new Pools(split.servers, (opts.jobs ?? 2) + 4);
  // Stopped (Ctrl-C, or SIGTERM as Kubernetes stops a Job): the statements running on the servers are cancelled,
  // again until the checks have all given up (a check may start its next one meanwhile), and nothing is recorded.
  let stopped: NodeJS.Signals | null = null;
  let settled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopped) return;
    stopped = signal;
    reporter.warn(`\nStopped (${signal}): cancelling verify's statements on every server; nothing will be recorded.`);
    void (async () => {
      while (!settled) {
        await pools.cancelQueries();
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const interrupted = (): InterruptedError =>
    new InterruptedError(
      `verify was stopped (${stopped}) before it finished: its statements were cancelled on every server, and no verification was recorded`,
      'run verify again',
    );
  try {
    const result = await verifySplit({
      plan,
      pools,
      servers: split.servers,
      rolePasswords,
      checksums: Boolean(opts.checksums),
      health: Boolean(opts.health),
      baseDir: dirname(split.file),
      jobs: opts.jobs ?? 2,
      healthUrls,
      onProgress: opts.onProgress ?? (() => undefined),
      // Applied one service at a time, before the last: the source is still every other service's database.
      ...(opts.services && !retired ? { sourceOpen: true } : {}),
      cutoverCopies: cutover,
    }).finally(() => {
      settled = true;
    });
    if (stopped) throw interrupted();
    // Only a check of every service counts for `retention prune`.
    if (!opts.services) await recordVerification(controlUrl, split.manifest.name, Boolean(opts.checksums), result);
    return { code: verifyExitCode(result), result };
  } catch (err) {
    throw stopped && !(err instanceof InterruptedError) ? interrupted() : err;
  } finally {
    settled = true;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await pools.end();
  }
}

/** Writes the run in the journal: a passing --checksums run is what lets `retention prune` drop the backup. */
async function recordVerification(controlUrl: string, split: string, checksums: boolean, result: VerifyResult): Promise<void> {
  const journal = await Journal.open(controlUrl);
  try {
    const failed = result.checks.filter((c) => !c.ok).map((c) => `${c.kind}${c.table ? ` ${c.table}` : ''}`);
    await journal.recordVerification(split, { checksums, passed: result.ok, detail: { checks: result.checks.length, failed } });
  } finally {
    await journal.close();
  }
}
