#!/usr/bin/env node
// @ts-check
/**
 * Judges a vitest run by its JSON report, not by its exit code (an exit hook in a test
 * dependency can turn a red run's exit code into 0). The run passes only when:
 *   - the report exists and was written by this run (the caller deletes it first);
 *   - every test file found on disk (the glob) is in the report: none left out;
 *   - every file in the report passed and holds at least one test (a file that fails to
 *     load, or holds no test, did not run);
 *   - no test failed, none was skipped or left as todo.
 *
 * Usage: node .ci/check-test-report.mjs --report <file> --tests <glob> [--tests <glob>…] [--root <dir>]
 * Prints every problem, then one closing line `N passed, N failed, N skipped, N files missing`;
 * exits 1 on any problem.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import picomatch from 'picomatch';

/**
 * @typedef {{ status: string; fullName: string; failureMessages?: string[] }} Assertion
 * @typedef {{ name: string; status: string; message?: string; assertionResults: Assertion[] }} FileResult
 * @typedef {{ testResults: FileResult[] }} Report
 * @typedef {{ problems: string[]; passed: number; failed: number; skipped: number; missing: number; files: number }} Verdict
 */

/**
 * @param {Report | null} report the parsed report, or null when there is none
 * @param {string[]} onDisk test files found on disk, relative to root
 * @param {string} root
 * @returns {Verdict}
 */
export function judge(report, onDisk, root) {
  /** @type {string[]} */
  const problems = [];
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  if (!report || !Array.isArray(report.testResults)) {
    return { problems: ['no test report: the run did not finish (or wrote no JSON report)'], passed, failed, skipped, missing: onDisk.length, files: 0 };
  }
  const ran = new Set();
  for (const file of report.testResults) {
    const name = isAbsolute(file.name) ? relative(root, file.name) : file.name;
    ran.add(name);
    const tests = file.assertionResults ?? [];
    if (tests.length === 0) {
      failed++;
      problems.push(`${name}: did not run (${(file.message || 'no test in it').split('\n')[0]})`);
      continue;
    }
    if (file.status !== 'passed' && !tests.some((t) => t.status === 'failed')) {
      problems.push(`${name}: the file failed outside its tests (${(file.message || file.status).split('\n')[0]})`);
    }
    for (const t of tests) {
      if (t.status === 'passed') passed++;
      else if (t.status === 'failed') {
        failed++;
        problems.push(`${name}: FAILED: ${t.fullName}: ${(t.failureMessages?.[0] ?? '').split('\n')[0]}`);
      } else {
        skipped++;
        problems.push(`${name}: ${t.status.toUpperCase()}: ${t.fullName} (skipped and todo tests are not allowed)`);
      }
    }
  }
  let missing = 0;
  for (const f of onDisk) {
    if (!ran.has(f)) {
      missing++;
      problems.push(`${f}: did not run (on disk, absent from the report: is it in vitest's include?)`);
    }
  }
  return { problems, passed, failed, skipped, missing, files: ran.size };
}

/**
 * Files under root (node_modules, dist and dot folders left out) matching any of the globs, relative to root.
 * @param {string} root
 * @param {string[]} globs
 * @returns {string[]}
 */
export function globSync(root, globs) {
  const match = picomatch(globs);
  /** @type {string[]} */
  const out = [];
  /** @param {string} dir */
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
      const f = join(dir, e.name);
      if (e.isDirectory()) walk(f);
      else if (match(relative(root, f))) out.push(relative(root, f));
    }
  };
  walk(root);
  return out.sort();
}

/** @param {Verdict} v */
export function summaryLine(v) {
  return `${v.passed} passed, ${v.failed} failed, ${v.skipped} skipped, ${v.missing} files missing`;
}

function main() {
  const { values } = parseArgs({
    options: {
      report: { type: 'string' },
      tests: { type: 'string', multiple: true },
      root: { type: 'string' },
    },
  });
  if (!values.report || !values.tests?.length) {
    console.error('usage: check-test-report.mjs --report <file> --tests <glob> [--tests <glob>…] [--root <dir>]');
    process.exit(2);
  }
  const root = resolve(values.root ?? '.');
  const onDisk = globSync(root, values.tests);
  /** @type {Report | null} */
  let report = null;
  const reportFile = resolve(root, values.report);
  if (existsSync(reportFile)) {
    try {
      report = JSON.parse(readFileSync(reportFile, 'utf8'));
    } catch (err) {
      console.error(`the test report ${reportFile} is not JSON: ${/** @type {Error} */ (err).message}`);
    }
  }
  const v = judge(report, onDisk, root);
  if (onDisk.length === 0) v.problems.push(`no test file matches ${values.tests.join(', ')} under ${root}`);
  for (const p of v.problems) console.error(`!!! ${p}`);
  console.log(`test report: ${v.files} files, ${onDisk.length} test files on disk${v.problems.length ? `, ${v.problems.length} problem(s)` : ''}`);
  console.log(summaryLine(v));
  process.exit(v.problems.length ? 1 : 0);
}

// Run as a script (not when imported by the self-test).
if (process.argv[1] && resolve(process.argv[1]) === new URL(import.meta.url).pathname) main();
