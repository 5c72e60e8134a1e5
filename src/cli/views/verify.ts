import type { Check, CheckKind } from '../../verify/check.js';
import { differencesOf, unverifiedOf, type VerifyResult } from '../../verify/verify.js';
import type { Output } from '../output.js';

/** What to do about a failed check of each kind (the check's detail says what differs). */
export const VERIFY_HINTS: Record<CheckKind, string> = {
  rowcount: 'rows are missing or extra in the target: run `verify --checksums` to name them; if the target was not written to since, `rollback` and `apply` again',
  checksum: 'the listed rows differ: if the service has not written them since the copy, `rollback` and `apply` again; otherwise compare them by hand',
  schema: 'create what is missing in the target (`plan --sql` shows the DDL of every object), or `rollback` and `apply` again',
  sequence: 'set each sequence named above to the source value with the setval shown, before the service inserts rows',
  fence: 'run the statements named above in the source (as its owner or a superuser), after moving to the service\'s database any row written there since: writes to the old tables then fail instead of being lost (a finished apply does not run its fence again)',
  isolation: 'revoke CONNECT as shown, or set the role password variables and verify again',
  config: 'rerun `apply` to write the config again, or edit the entry so it points at the new database',
  health: 'check that the service is running, and its logs: does it reach its new database?',
  orphans: '',
  denormalized: 'the denormalized columns do not hold what their lookup gives: if the service has not written them since the copy, `rollback` and `apply` again to refill them',
};

/**
 * What to do about one failed check: its kind's hint, or for a partition one side has and
 * the other lacks (a job making partitions against one database only), what fits that.
 */
export function hintFor(check: Pick<Check, 'kind' | 'detail'>): string {
  if (check.kind === 'rowcount' && /is not one in the source/.test(check.detail)) {
    return 'a partition exists in the new database only: after an online cutover, a service\'s job made it there; make it in the source too while the way back is kept (`status` shows the statements), else drop it if it holds nothing';
  }
  if (check.kind === 'rowcount' && /created or attached in the source after the plan/.test(check.detail)) {
    return 'a partition exists in the source only: a job made it against the old database; make it in the new database (and move its rows there) or detach it from the source, and point that job at the new database';
  }
  return VERIFY_HINTS[check.kind];
}

/** `verify --json`: the SPEC §2 shape (fields may be added, never renamed). */
export function verifyJson(result: VerifyResult): { ok: boolean; checks: Check[]; unverified: number } {
  return {
    ok: result.ok,
    checks: result.checks.map((c) => ({
      kind: c.kind,
      ...(c.service !== undefined ? { service: c.service } : {}),
      ...(c.table !== undefined ? { table: c.table } : {}),
      ok: c.ok,
      ...(c.source !== undefined ? { source: c.source } : {}),
      ...(c.target !== undefined ? { target: c.target } : {}),
      detail: c.detail,
      ...(c.keys !== undefined ? { keys: c.keys } : {}),
      ...(c.unverified ? { unverified: true } : {}),
    })),
    unverified: unverifiedOf(result).length,
  };
}

function isNotice(c: Check): boolean {
  const t = c.target as { rows?: number } | undefined;
  return c.kind === 'orphans' && typeof t?.rows === 'number' && t.rows > 0;
}

function groups(checks: readonly Check[]): Array<[string, Check[]]> {
  const by = new Map<string, Check[]>();
  for (const c of checks) {
    const name = c.service ?? '';
    by.set(name, [...(by.get(name) ?? []), c]);
  }
  return [...by].sort(([a], [b]) => (a === '' ? 1 : b === '' ? -1 : a.localeCompare(b)));
}

/**
 * Human rendering: one table per service (kind, object, result), differences in red
 * followed by what to do, orphaned rows as notices, and a one-line verdict.
 */
export function renderVerify(result: VerifyResult, out: Output, opts: { compact?: boolean } = {}): void {
  const { c } = out;
  const lines: string[] = [];
  if (opts.compact) {
    renderCompact(result, out);
    return;
  }
  const objectWidth = Math.min(40, Math.max(6, ...result.checks.map((x) => (x.table ?? '').length)));
  for (const [service, checks] of groups(result.checks)) {
    lines.push(c.bold(service === '' ? 'split' : `service ${service}`) + serviceVerdict(out, checks));
    const hinted = new Set<string>();
    for (const x of checks) {
      const row = `  ${mark(out, x)} ${x.kind.padEnd(9)} ${(x.table ?? '').padEnd(objectWidth)} ${x.detail}`;
      lines.push(x.ok ? (isNotice(x) ? row : c.dim(row)) : x.unverified ? c.yellow(row) : c.red(row));
      const hint = hintFor(x);
      if (!x.ok && !x.unverified && !hinted.has(hint) && hint) {
        hinted.add(hint);
        lines.push(c.yellow(`      → ${hint}`));
      }
    }
    lines.push('');
  }
  lines.push(verdict(out, result));
  out.say(lines.join('\n'));
}

/** ✓ passed, i notice, ✗ difference, ? could not run (no verdict). */
function mark(out: Output, x: Check): string {
  const { c } = out;
  if (x.ok) return isNotice(x) ? c.blue('i') : c.green('✓');
  return x.unverified ? c.yellow('?') : c.red('✗');
}

function serviceVerdict(out: Output, checks: readonly Check[]): string {
  const { c } = out;
  const bad = checks.filter((x) => !x.ok && !x.unverified).length;
  const unknown = checks.filter((x) => !x.ok && x.unverified).length;
  const parts = [
    ...(bad ? [c.red(`${bad} difference${bad === 1 ? '' : 's'}`)] : []),
    ...(unknown ? [c.yellow(`${unknown} could not run`)] : []),
  ];
  return parts.length > 0 ? `  ${parts.join(', ')}` : c.green('  ok');
}

/** The last line: passed, the differences found, and the checks that could not run (and what to do then). */
function verdict(out: Output, result: VerifyResult): string {
  const { c } = out;
  const total = result.checks.length;
  if (result.ok) return c.green(`verify: all ${total} checks passed`);
  const found = differencesOf(result).length;
  const unknown = unverifiedOf(result).length;
  const rerun = `${unknown} of ${total} checks could not run: a connection was lost, a server did not answer or a privilege was missing (lines marked ?); run verify again once it answers, or as a role that has the privilege`;
  if (found === 0) return c.yellow(`verify: no difference found, but ${rerun}`);
  return c.red(`verify: ${found} of ${total} checks found a difference`) + (unknown ? c.yellow(`; ${rerun}`) : '');
}

/** One line per service (passed checks counted by kind); differences and notices in full. */
function renderCompact(result: VerifyResult, out: Output): void {
  const { c } = out;
  const lines: string[] = [];
  for (const [service, checks] of groups(result.checks)) {
    const kinds = new Map<string, number>();
    for (const x of checks) if (x.ok) kinds.set(x.kind, (kinds.get(x.kind) ?? 0) + 1);
    const bad = checks.filter((x) => !x.ok);
    const summary = [...kinds].map(([k, n]) => `${n} ${k}`).join(', ');
    const head = bad.some((x) => !x.unverified) ? c.red('✗') : bad.length > 0 ? c.yellow('?') : c.green('✓');
    lines.push(`${head} ${c.bold((service || 'split').padEnd(22))} ${c.dim(summary)}`);
    for (const x of [...bad, ...checks.filter(isNotice)]) {
      lines.push(`    ${mark(out, x)} ${x.kind} ${x.table ?? ''} ${x.detail}`);
    }
  }
  lines.push(verdict(out, result));
  out.say(lines.join('\n'));
}
