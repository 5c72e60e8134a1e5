#!/usr/bin/env node
// @ts-check
/**
 * Proves that .ci/check-test-report.mjs rejects what it must: each case of
 * test/fixtures/report-check/cases/ runs through vitest with the JSON reporter, exactly as
 * `npm test` runs, and the report goes through the same check .ci/run uses on the real
 * suite. The passing case must be accepted (the check is not simply always red); every
 * other case must be rejected with its reason. Exits 1 when any verdict is wrong.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const checker = join(root, '.ci', 'check-test-report.mjs');
const config = 'test/fixtures/report-check/vitest.config.ts';
const dir = join(root, '.tmp', 'report-check');
mkdirSync(dir, { recursive: true });

/** @type {Array<{ name: string; accept: boolean; reason?: RegExp; noRun?: boolean }>} */
const cases = [
  { name: 'passing', accept: true },
  { name: 'failing', accept: false, reason: /fails\.case\.ts: FAILED: fails on purpose/ },
  { name: 'skipped', accept: false, reason: /skips\.case\.ts: SKIPPED: is skipped on purpose[\s\S]*skips\.case\.ts: TODO: is left as todo on purpose/ },
  { name: 'not-run', accept: false, reason: /forgotten\.excluded\.case\.ts: did not run \(on disk, absent from the report/ },
  { name: 'no-test', accept: false, reason: /empty\.case\.ts: did not run/ },
  { name: 'import-error', accept: false, reason: /broken\.case\.ts: did not run \(.*fails to load on purpose/ },
  // vitest never ran (or died before writing its report): the check must not take silence for success.
  { name: 'passing', accept: false, reason: /no test report/, noRun: true },
];

let wrong = 0;
for (const c of cases) {
  const report = join(dir, `${c.name}${c.noRun ? '-missing' : ''}.json`);
  rmSync(report, { force: true });
  if (!c.noRun) {
    const run = spawnSync(process.execPath, [vitest, 'run', '--config', config], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, REPORT_CASE: c.name, REPORT_FILE: report, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (run.error) throw run.error;
  }
  const check = spawnSync(process.execPath, [checker, '--report', report, '--tests', `test/fixtures/report-check/cases/${c.name}/*.case.ts`], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const said = `${check.stdout}${check.stderr}`;
  const accepted = check.status === 0;
  const ok = accepted === c.accept && (!c.reason || c.reason.test(said));
  const label = `${c.name}${c.noRun ? ' (no report)' : ''}`;
  if (ok) console.log(`report check self-test: ${label}: ${accepted ? 'accepted' : 'rejected'} as it must be`);
  else {
    wrong++;
    console.error(`!!! report check self-test: ${label}: ${accepted ? 'ACCEPTED' : 'rejected'} (expected ${c.accept ? 'accepted' : `rejected with ${c.reason}`}):\n${said}`);
  }
}
rmSync(dir, { recursive: true, force: true });
if (wrong > 0) {
  console.error(`!!! the test report check is broken: ${wrong} wrong verdict(s); CI cannot trust it`);
  process.exit(1);
}
console.log(`report check self-test: ${cases.length} cases, every verdict right`);
