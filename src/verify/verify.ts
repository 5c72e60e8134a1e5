import type { Plan } from '../plan/model.js';
import { ExitCode } from '../errors.js';
import type { Pools } from '../pg/pools.js';
import { errorText, unverifiedBy, type Check, type CheckKind, type VerifyContext } from './check.js';
import { rowcountChecks } from './rowcount.js';
import { partitionRowcountChecks } from './partition-rowcount.js';
import { checksumAndRowcountChecks } from './checksum.js';
import { schemaChecks } from './schema.js';
import { sequenceChecks } from './sequence.js';
import { fenceChecks } from './fence.js';
import { isolationChecks } from './isolation.js';
import { configChecks } from './config.js';
import { healthChecks, healthUrlsFromPlan } from './health.js';
import { orphanChecks } from './orphans.js';
import { denormalizedChecks } from './denormalized.js';
import type { CutoverCopy } from './cutover-copies.js';

export type { Check, CheckKind } from './check.js';

export interface VerifyOptions {
  plan: Plan;
  pools: Pools;
  /** Expanded URLs by server name ("source": the source server and database). */
  servers: Record<string, string>;
  /** Role name → expanded password (null when the manifest gives none). */
  rolePasswords: Record<string, string | null>;
  checksums: boolean;
  health: boolean;
  /** Folder of the manifest: config paths are relative to it. */
  baseDir: string;
  /** Tables compared at once (default 2). */
  jobs?: number;
  onProgress?: (msg: string) => void;
  /** Health URL per service, expanded. Default: read from the plan's manifest, `${VAR}` expanded from `env`. */
  healthUrls?: Record<string, string>;
  env?: NodeJS.ProcessEnv;
  /** See VerifyContext.sourceOpen. */
  sourceOpen?: boolean;
  /** See VerifyContext.cutoverCopies. */
  cutoverCopies?: ReadonlyMap<string, CutoverCopy>;
}

/** `ok` is true only when every check is; `checks` lists every check, failed or not, in a stable order. */
export interface VerifyResult {
  ok: boolean;
  checks: Check[];
}

async function guarded(kind: CheckKind, run: () => Promise<Check[]>): Promise<Check[]> {
  try {
    return await run();
  } catch (err) {
    return [{ kind, ok: kind === 'orphans', detail: `the ${kind} checks could not run: ${errorText(err)}`, ...(kind === 'orphans' ? {} : unverifiedBy(err)) }];
  }
}

/**
 * Compares the source with every target (SPEC §4): row counts, optional checksums with
 * the first differing rows, schema parity, sequences, the fence, role isolation,
 * config entries, optional health URLs, and (informational) rows orphaned by the
 * dropped foreign keys. Never changes anything: every write test is rolled back.
 */
export async function verifySplit(opts: VerifyOptions): Promise<VerifyResult> {
  const ctx: VerifyContext = {
    plan: opts.plan,
    pools: opts.pools,
    servers: opts.servers,
    rolePasswords: opts.rolePasswords,
    baseDir: opts.baseDir,
    jobs: Math.max(1, opts.jobs ?? 2),
    progress: opts.onProgress ?? (() => undefined),
    ...(opts.sourceOpen ? { sourceOpen: true } : {}),
    ...(opts.cutoverCopies ? { cutoverCopies: opts.cutoverCopies } : {}),
  };
  const run = async (kind: CheckKind, fn: () => Promise<Check[]>): Promise<Check[]> => {
    ctx.progress(`verifying ${kind}`);
    return guarded(kind, fn);
  };
  // The data checks read every row (CPU-bound); the others mostly wait on round trips,
  // so they run beside them. Results are listed in a fixed order whatever finishes first.
  const data = async (): Promise<Check[]> => {
    // Partitioned tables are counted through themselves too: a partition the plan does not list still counts.
    const parents = (): Promise<Check[]> => run('rowcount', () => partitionRowcountChecks(ctx));
    if (!opts.checksums) return [...(await run('rowcount', () => rowcountChecks(ctx))), ...(await parents())];
    // One scan per side and table gives both the count and the checksum.
    ctx.progress('verifying rowcount and checksum');
    try {
      const both = await checksumAndRowcountChecks(ctx);
      return [...both.rowcount, ...(await parents()), ...both.checksum, ...(await run('denormalized', () => denormalizedChecks(ctx, both.denormalized)))];
    } catch (err) {
      return (['rowcount', 'checksum'] as const).map((kind) => ({ kind, ok: false, detail: `the ${kind} checks could not run: ${errorText(err)}`, ...unverifiedBy(err) }));
    }
  };
  const others = async (): Promise<Check[]> => {
    const out: Check[] = [];
    out.push(...(await run('schema', () => schemaChecks(ctx))));
    out.push(...(await run('sequence', () => sequenceChecks(ctx))));
    out.push(...(await run('fence', () => fenceChecks(ctx))));
    out.push(...(await run('isolation', () => isolationChecks(ctx))));
    out.push(...(await run('config', () => configChecks(ctx))));
    if (opts.health) {
      out.push(...(await run('health', async () => healthChecks(opts.healthUrls ?? healthUrlsFromPlan(opts.plan, opts.env ?? process.env)))));
    }
    out.push(...(await run('orphans', () => orphanChecks(ctx))));
    return out;
  };
  const [first, rest] = await Promise.all([data(), others()]);
  const checks = [...first, ...rest];
  return { ok: checks.every((c) => c.ok), checks };
}

/** The failed checks that found a difference (not those that could not run for a lost connection). */
export function differencesOf(result: VerifyResult): Check[] {
  return result.checks.filter((c) => !c.ok && !c.unverified);
}

/** The checks that could not run: a connection was lost or a server could not be reached. */
export function unverifiedOf(result: VerifyResult): Check[] {
  return result.checks.filter((c) => !c.ok && c.unverified);
}

/**
 * Exit 0 when every check passed; 1 when one found a difference (whatever else could not
 * run); 3 when the only failures are checks that could not run: no difference was found,
 * none can be ruled out, and verify should run again once the servers answer.
 */
export function verifyExitCode(result: VerifyResult): ExitCode {
  if (result.ok) return ExitCode.ok;
  return differencesOf(result).length > 0 ? ExitCode.difference : ExitCode.stepFailed;
}
