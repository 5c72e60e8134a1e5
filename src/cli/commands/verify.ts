import { Command } from 'commander';
import { dirname } from 'node:path';
import { withCommon, outputFor, type CommonOptions } from '../common.js';
import type { Io } from '../io.js';
import type { Output } from '../output.js';
import { loadSplit } from '../../plan/make.js';
import { Journal } from '../../engine/journal.js';
import { controlUrlFor } from '../../engine/journal-db.js';
import { expand } from '../../manifest/expand.js';
import { Pools } from '../../pg/pools.js';
import { verifySplit, type VerifyResult } from '../../verify/verify.js';
import { renderVerify, verifyJson } from '../views/verify.js';
import { BadInputError, ExitCode } from '../../errors.js';

export interface VerifyCommandOptions extends CommonOptions {
  checksums?: boolean;
  health?: boolean;
  jobs?: number;
}

/** Verifies the split named in the manifest, against the plan its last apply ran (from the journal). */
export async function verifyCommand(opts: VerifyCommandOptions, out: Output, env: NodeJS.ProcessEnv): Promise<{ code: number; result: VerifyResult }> {
  const split = await loadSplit(opts.manifest, env, { source: true });
  for (const s of split.secrets) out.secrets.add(s);
  const controlUrl = controlUrlFor(split.servers.source!, split.controlUrl);
  const journal = await Journal.open(controlUrl);
  let plan;
  try {
    plan = await journal.lastPlan(split.manifest.name);
  } finally {
    await journal.close();
  }
  if (!plan) {
    throw new BadInputError(`split ${split.manifest.name} has not been applied yet: nothing to verify`, 'run `cloudphone-split apply` first');
  }
  const rolePasswords: Record<string, string | null> = {};
  for (const s of split.manifest.services) {
    if (!s.role) continue;
    rolePasswords[s.role.name] = s.role.password ? expand(s.role.password, env, `services.${s.name}.role.password`) : null;
  }
  const healthUrls: Record<string, string> = {};
  for (const s of split.manifest.services) if (s.health) healthUrls[s.name] = expand(s.health, env, `services.${s.name}.health`);
  // Each compared table holds a source and a target connection; the other checks run beside them.
  const pools = new Pools(split.servers, (opts.jobs ?? 2) + 4);
  const spinner = out.interactive && !out.json ? (await import('ora')).default({ stream: process.stderr }).start('verifying') : null;
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
      onProgress: (msg) => {
        if (spinner) spinner.text = msg;
        else if (out.verbose) out.warn(msg);
      },
    });
    spinner?.stop();
    await recordVerification(controlUrl, split.manifest.name, Boolean(opts.checksums), result);
    return { code: result.ok ? ExitCode.ok : ExitCode.difference, result };
  } finally {
    spinner?.stop();
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

export function registerVerify(program: Command, io: Io): void {
  withCommon(
    program
      .command('verify')
      .summary('compare source and targets: rows, checksums, schema, sequences, fence, isolation, config')
      .description(
        'Checks, for every service of the last applied plan: row counts of every moved and copied table; with --checksums an\n' +
          'order-independent checksum of every row (and the keys of the rows that differ); schema parity less the dropped\n' +
          'foreign keys; sequences at or past the source; config entries pointing at the new databases; each service role\n' +
          'connecting to its own database only; the fence on the source; with --health each health URL answering 2xx.\n' +
          'Exit 1 on any difference, with every difference listed.',
      )
      .option('--checksums', 'also compare a checksum of every row of every table')
      .option('--health', "also GET each service's health URL (2xx within 5 s)")
      .option('--jobs <n>', 'tables compared at once', (v) => Math.max(1, Number(v) || 1)),
  ).action(async (opts: VerifyCommandOptions) => {
    const out = outputFor(opts, io);
    const { code, result } = await verifyCommand(opts, out, io.env);
    if (out.json) out.data(verifyJson(result));
    else renderVerify(result, out);
    io.exit(code);
  });
}
