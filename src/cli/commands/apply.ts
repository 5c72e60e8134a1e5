import { Command, Option } from 'commander';
import { availableParallelism } from 'node:os';
import { dirname, resolve as resolvePath } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { withCommon, outputFor, type CommonOptions } from '../common.js';
import type { Io } from '../io.js';
import type { Output } from '../output.js';
import { readPlanFile, writePlanFile } from '../../plan/plan-file.js';
import { makePlan, readLiveCatalog } from '../../plan/make.js';
import { parseManifest } from '../../manifest/load.js';
import { expand, missingVariables, secretsOf } from '../../manifest/expand.js';
import type { Plan } from '../../plan/model.js';
import { tableFingerprint } from '../../catalog/fingerprint.js';
import { handlers } from '../../steps/index.js';
import { Pools } from '../../pg/pools.js';
import { Journal } from '../../engine/journal.js';
import { controlUrlFor } from '../../engine/journal-db.js';
import { SplitLock } from '../../engine/lock.js';
import { SnapshotHolder } from '../../engine/snapshot.js';
import { runPlan } from '../../engine/executor.js';
import { chooseProgress } from '../views/progress.js';
import { BadInputError, ManifestError, PlanBlockedError, StalePlanError } from '../../errors.js';
import { defaultPlanFile } from './plan.js';
import { renderDryRun } from '../views/dry-run.js';

export interface ApplyOptions extends CommonOptions {
  dryRun?: boolean;
  jobs?: number;
  indexWorkers?: number;
  yes?: boolean;
  /** Set by tests and the demo: the clock used for retention. */
  now?: Date;
}

/** The servers of a plan, expanded from its own manifest text (what was reviewed is what runs). */
export function planServers(plan: Plan, env: NodeJS.ProcessEnv, manifestFile: string) {
  const manifest = parseManifest(plan.manifest.text, manifestFile);
  const missing = missingVariables(manifest, env, manifestFile);
  if (missing.length > 0) throw new ManifestError(missing);
  const servers: Record<string, string> = { source: expand(manifest.source.url, env, 'source.url') };
  for (const [name, url] of Object.entries(manifest.servers)) servers[name] = expand(url, env, `servers.${name}`);
  const controlUrl = controlUrlFor(servers.source!, manifest.control ? expand(manifest.control.url, env, 'control.url') : null);
  return { manifest, servers, controlUrl, secrets: secretsOf(manifest, env) };
}

/** Re-reads the source and refuses a plan whose tables changed since it was made (exit 4). */
export async function checkFingerprint(plan: Plan, sourceUrl: string, schemas: string[]): Promise<void> {
  const catalog = await readLiveCatalog(sourceUrl, schemas);
  const changed: string[] = [];
  for (const [key, fp] of Object.entries(plan.tableFingerprints)) {
    if (!catalog.tables.some((t) => `${t.schema}.${t.name}` === key)) changed.push(`${key} (gone)`);
    else if (tableFingerprint(catalog, key) !== fp) changed.push(key);
  }
  // A partition added since (GitLab-style dynamic partitions): its rows would not be copied.
  for (const t of catalog.tables) {
    const key = `${t.schema}.${t.name}`;
    const parent = t.partitionOf ? `${t.partitionOf.parent.schema}.${t.partitionOf.parent.name}` : null;
    if (parent !== null && !(key in plan.tableFingerprints) && parent in plan.tableFingerprints) changed.push(`${key} (new partition of ${parent})`);
  }
  if (changed.length > 0) {
    throw new StalePlanError(
      `the source schema changed since the plan was made: ${changed.slice(0, 10).join(', ')}${changed.length > 10 ? ` and ${changed.length - 10} more` : ''}`,
      'make a new plan (cloudphone-split plan) and review it; nothing was changed',
    );
  }
}

async function confirm(out: Output, plan: Plan): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(
      `Apply split ${plan.name}: ${plan.services.length} databases, ${plan.steps.filter((s) => s.kind === 'copy_data').length} tables, then fence and retire ${plan.source.database}? Type "yes" to go on: `,
    );
    return answer.trim().toLowerCase() === 'yes';
  } finally {
    rl.close();
  }
}

export async function applyCommand(planFile: string | undefined, opts: ApplyOptions, out: Output, env: NodeJS.ProcessEnv): Promise<number> {
  let plan: Plan;
  let manifestFile: string;
  if (planFile) {
    plan = await readPlanFile(planFile);
    manifestFile = resolvePath(dirname(resolvePath(planFile)), plan.manifest.path);
  } else {
    const made = await makePlan({ manifestFile: opts.manifest, env, planFile: defaultPlanFile(opts.manifest, 'plan') });
    plan = made.plan;
    manifestFile = made.split.file;
    if (!opts.dryRun) await writePlanFile(defaultPlanFile(opts.manifest, plan.name), plan);
  }
  const { manifest, servers, controlUrl, secrets } = planServers(plan, env, manifestFile);
  for (const s of secrets) out.secrets.add(s);
  if (plan.errors.length > 0) {
    throw new PlanBlockedError(`the plan has ${plan.errors.length} blocking problem(s):\n  ${plan.errors.join('\n  ')}`, 'fix the manifest and plan again');
  }
  await checkFingerprint(plan, servers.source!, manifest.source.schemas);
  if (opts.dryRun) {
    renderDryRun(plan, handlers, out);
    return 0;
  }
  if (!opts.yes && process.stdin.isTTY && out.interactive) {
    if (!(await confirm(out, plan))) {
      out.warn('Nothing was changed.');
      return 0;
    }
  }
  const jobs = Math.max(1, opts.jobs ?? availableParallelism());
  // The journal first: it creates the control database the lock lives in.
  const journal = await Journal.open(controlUrl);
  const lock = await SplitLock.acquire(controlUrl, plan.name).catch(async (err: unknown) => {
    await journal.close();
    throw err;
  });
  const pools = new Pools(servers, jobs * 2 + 2);
  const snapshot = new SnapshotHolder(() => pools.client('source'));
  const abort = new AbortController();
  const onSigint = () => {
    out.warn('\nInterrupted: finishing the running steps, then stopping (rerun apply to resume).');
    abort.abort();
  };
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigint);
  const progress = chooseProgress({ json: out.json, color: out.color, isTTY: out.interactive, stream: out.json ? out.stdout : out.stdout });
  try {
    const summary = await runPlan({
      plan,
      handlers,
      pools,
      journal,
      jobs,
      ...(opts.indexWorkers !== undefined ? { indexWorkers: opts.indexWorkers } : {}),
      env,
      baseDir: dirname(manifestFile),
      progress,
      signal: abort.signal,
      now: opts.now ? () => opts.now! : () => new Date(),
      snapshot: () => snapshot.id(),
      lock,
      // Online plans: the cutover steps are run by `cutover`.
      only: (s) => (s.phase ?? 'apply') === 'apply',
    });
    progress.close?.();
    out.say(out.c.green(`\nSplit ${plan.name} applied: ${summary.ran} steps run, ${summary.skipped} already done.`));
    if (plan.mode === 'online') {
      out.say('Replication is running: the new databases follow every write to the source.');
      out.say(`Next, when ready to switch: cloudphone-split cutover -m ${manifestFile}`);
    } else {
      out.say(`Next: cloudphone-split verify --checksums -m ${manifestFile}`);
    }
    return 0;
  } finally {
    progress.close?.();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    await snapshot.close().catch(() => undefined);
    await pools.end();
    await journal.close().catch(() => undefined);
    await lock.release().catch(() => undefined);
  }
}

export function registerApply(program: Command, io: Io): void {
  withCommon(
    program
      .command('apply')
      .summary("run the plan's steps with the journal; resumes where a previous run stopped")
      .description(
        'Runs every step of the plan in order (independent steps in parallel), recording each in the journal before and after,\n' +
          'so that a run killed at any moment resumes where it stopped when started again. Without a plan file it plans from the\n' +
          'manifest first, exactly as `plan` would, and runs that. The source schema is re-read first: if it changed since the plan,\n' +
          'apply stops with exit 4 before changing anything.',
      )
      .argument('[planfile]', 'a plan written by `cloudphone-split plan`')
      .option('--dry-run', 'print every SQL statement and config diff it would run; change nothing anywhere')
      .addOption(new Option('--jobs <n>', 'steps run in parallel (default: number of cores)').argParser((v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new BadInputError(`--jobs takes a whole number >= 1, not ${v}`);
        return n;
      }))
      .addOption(
        new Option(
          '--index-workers <n>',
          "parallel workers PostgreSQL adds to each index build (max_parallel_maintenance_workers; default: the target server's setting). " +
            '0 when --jobs already keeps the target\'s cores busy, e.g. target and CLI on one small machine',
        ).argParser((v) => {
          const n = Number(v);
          if (!Number.isInteger(n) || n < 0 || n > 1024) throw new BadInputError(`--index-workers takes a whole number from 0 to 1024, not ${v}`);
          return n;
        }),
      )
      .option('--yes', 'do not ask for confirmation')
      .addHelpText('after', '\nExamples:\n  $ cloudphone-split apply plans/cloudphone.plan.json --dry-run\n  $ cloudphone-split apply plans/cloudphone.plan.json --yes --jobs 2'),
  ).action(async (planFile: string | undefined, opts: ApplyOptions) => {
    const out = outputFor(opts, io);
    io.exit(await applyCommand(planFile, opts, out, io.env));
  });
}
